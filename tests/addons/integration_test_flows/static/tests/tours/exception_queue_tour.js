/** @odoo-module **/

import { registry } from "@web/core/registry";

// A finance user works the exception queue: links an unmatched customer to
// the partner that exists, and ignores another exception with a reason.
registry.category("web_tour.tours").add("integration_exception_queue", {
    url: "/odoo/action-integration_audit.action_integration_exception",
    steps: () => [
        {
            content: "Open the unmatched customer from the kanban",
            trigger: ".o_kanban_record:contains('Acme Consulting (HS-100)')",
            run: "click",
        },
        {
            content: "The exception explains itself in plain words",
            trigger: ".o_field_widget[name=description]:contains('matches no partner')",
        },
        {
            content: "Link the candidate partner",
            trigger: ".o_field_widget[name=candidate_ids] tr:contains('Acme Consulting Ltd') button[name=action_link]",
            run: "click",
        },
        {
            content: "The job is requeued and the exception is in progress",
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains('In Progress')",
        },
        {
            content: "The job now waits in the queue",
            trigger: ".o_field_widget[name=job_state]:contains('Pending')",
        },
        {
            content: "Back to the queue",
            trigger: ".o_breadcrumb .o_back_button a, .o_breadcrumb li.breadcrumb-item:first-child a",
            run: "click",
        },
        {
            content: "Open the duplicate event",
            trigger: ".o_kanban_record:contains('Duplicate test event')",
            run: "click",
        },
        {
            content: "Write why it can be ignored",
            trigger: ".o_field_widget[name=resolution_note] textarea",
            run: "edit Sent twice by the CRM; the first delivery was applied.",
        },
        {
            content: "Ignore it",
            trigger: "button[name=action_ignore]",
            run: "click",
        },
        {
            content: "It is ignored",
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains('Ignored')",
        },
    ],
});

registry.category("web_tour.tours").add("integration_exception_resolved", {
    url: "/odoo/action-integration_audit.action_integration_exception",
    steps: () => [
        {
            content: "Show closed exceptions too",
            trigger: ".o_searchview_facet:contains('Open') .o_facet_remove",
            run: "click",
        },
        {
            content: "Open the customer exception again",
            trigger: ".o_kanban_record:contains('Acme Consulting (HS-100)')",
            run: "click",
        },
        {
            content: "The retried job is done and the exception resolved",
            trigger: ".o_field_widget[name=job_state]:contains('Done')",
        },
        {
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains('Resolved')",
        },
    ],
});
