/** @odoo-module **/

import { registry } from "@web/core/registry";

const QUEUE_URL = "/odoo/action-integration_audit.action_integration_exception";

function backToQueue() {
    return {
        content: "Back to the queue",
        trigger: ".o_breadcrumb .breadcrumb-item:first-child a",
        run: "click",
    };
}

// A finance user (Integration Manager with invoicing rights) works the
// exception queue. The user links a HubSpot company to the partner Odoo
// already has and approves the correction of a timesheet changed in Harvest
// after it was invoiced. Then the user ignores a duplicate event, giving a
// reason.
registry.category("web_tour.tours").add("integration_exception_queue", {
    url: QUEUE_URL,
    steps: () => [
        {
            content: "Open the HubSpot company that matches no partner",
            trigger: ".o_kanban_record:contains('NW Advisory')",
            run: "click",
        },
        {
            content: "The exception names the HubSpot company and what to do",
            trigger: ".o_field_widget[name=description]:contains('HubSpot company 9001 (NW Advisory) matches no partner'):contains('Link a partner and retry')",
        },
        {
            content: "Link to offers the models exceptions link, not every model",
            trigger: ".o_field_widget[name=link_record] select:not(:has(option[value='res.users']))",
        },
        {
            content: "Link it to a contact",
            trigger: ".o_field_widget[name=link_record] select",
            run: "select res.partner",
        },
        {
            content: "Search the partner Odoo already has",
            trigger: ".o_field_widget[name=link_record] input",
            run: "edit Northwind",
        },
        {
            content: "Pick it",
            trigger: ".o-autocomplete--dropdown-item > a:contains('Northwind Advisory Group')",
            run: "click",
        },
        {
            content: "Link and retry the job",
            trigger: "button[name=action_link_record]",
            run: "click",
        },
        {
            content: "The exception is in progress",
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains('In Progress')",
        },
        {
            content: "The job waits in the queue again",
            trigger: ".o_field_widget[name=job_state]:contains('Pending')",
        },
        backToQueue(),
        {
            content: "Open the timesheet changed after invoicing",
            trigger: ".o_kanban_record:contains('was invoiced on')",
            run: "click",
        },
        {
            content: "The exception says how the PSA changed the invoiced time",
            trigger: ".o_field_widget[name=description]:contains('changed in the PSA to'):contains('5.70 h'):contains('8.00 h')",
        },
        {
            content: "It shows the hours the PSA now records",
            trigger: ".o_field_widget[name=psa_hours]:contains('5.70')",
        },
        {
            content: "It offers the correction, not Retry",
            trigger: "div[name=billing_correction_hint]:contains('Correct in next billing run')",
        },
        {
            content: "Retry is hidden",
            trigger: ".o_form_statusbar:not(:has(button[name=action_retry]))",
        },
        {
            content: "It names the invoiced timesheet",
            trigger: ".o_field_widget[name=billing_timesheet_id]:contains('Design')",
        },
        {
            content: "and the invoice that billed it",
            trigger: ".o_field_widget[name=billing_invoice_id]:contains('INV/')",
        },
        {
            content: "Correct it in the next billing run",
            trigger: "button[name=action_open_billing_correction]",
            run: "click",
        },
        {
            content: "The correction starts with the PSA's hours",
            trigger: ".o_field_widget[name=corrected_hours] input:value(5.70)",
        },
        {
            content: "and shows what was invoiced",
            trigger: ".o_field_widget[name=invoiced_hours]:contains('8.00')",
        },
        {
            content: "and the difference",
            trigger: ".o_field_widget[name=difference_hours]:contains('-2.30')",
        },
        {
            content: "It names the invoice it corrects",
            trigger: ".o_field_widget[name=invoice_id]:contains('INV/')",
        },
        {
            content: "and the timesheet",
            trigger: ".o_field_widget[name=timesheet_id]:contains('Design')",
        },
        {
            content: "Approve the correction",
            trigger: "button[name=action_confirm]",
            run: "click",
        },
        {
            content: "It waits for the next billing run",
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains('Waiting for a run')",
        },
        backToQueue(),
        {
            content: "The approved exception has left the open queue",
            trigger: ".o_kanban_renderer:not(:has(.o_kanban_record:contains('was invoiced on')))",
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

// After the queue ran: the linked company's job is done, and each decision
// shows who made it.
registry.category("web_tour.tours").add("integration_exception_resolved", {
    url: QUEUE_URL,
    steps: () => [
        {
            content: "Show closed exceptions too",
            trigger: ".o_searchview_facet:contains('Open') .o_facet_remove",
            run: "click",
        },
        {
            content: "Open the HubSpot company again",
            trigger: ".o_kanban_record:contains('NW Advisory')",
            run: "click",
        },
        {
            content: "The retried job is done",
            trigger: ".o_field_widget[name=job_state]:contains('Done')",
        },
        {
            content: "and the exception resolved",
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains('Resolved')",
        },
        backToQueue(),
        {
            content: "Open the corrected timesheet's exception",
            trigger: ".o_kanban_record:contains('was invoiced on')",
            run: "click",
        },
        {
            content: "It is resolved by the finance user who approved",
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains('Resolved')",
        },
        {
            trigger: ".o_field_widget[name=resolved_by_id]:contains('finance_user')",
        },
    ],
});
