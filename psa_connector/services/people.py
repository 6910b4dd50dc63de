"""Map every PSA user to an employee, ahead of the time they record.

The time import maps people too, but only those who recorded time in the
pages it reads; this pass maps the whole user list, so an unknown person
is an exception (with "create employee" and "link") before their first
timesheet waits on it.
"""

from . import mapping
from .records import Person
from .validation import unknown_person_error, unreadable_error

FLOW = "psa.person"


def sync_people(backend):
    """Bind every active PSA user to the employee with their work e-mail.

    Returns {"read", "mapped", "unknown"}: users read, users mapped to an
    employee (before or now), active users left for a person to decide on.
    """
    users = list(backend._psa_client().iter_people())
    for unreadable in (user for user in users if not isinstance(user, Person)):
        open_unreadable_person(backend, unreadable)
    people = [user for user in users if isinstance(user, Person) and user.active]
    employees = mapping.resolve_employees(
        backend.env, backend, {person.id: person.email for person in people}
    )
    unknown = [person for person in people if person.id not in employees]
    for person in unknown:
        open_unknown_person(backend, person)
    return {"read": len(people), "mapped": len(employees), "unknown": len(unknown)}


def person_payload(person):
    """Return the job payload of a person: the keys the exception's link reads."""
    return {
        "person_id": person.id,
        "person_email": person.email,
        "person_name": person.name,
    }


def open_unknown_person(backend, person):
    """Store the person as a failed job and open (or refresh) their exception."""
    error = unknown_person_error(backend, person.id, person.email)
    job = backend._psa_failed_job(FLOW, person.id, person_payload(person), str(error))
    return backend.env["integration.exception"]._open_from_error(job, error)


def open_unreadable_person(backend, unreadable):
    """Store a PSA user that cannot be read as a failed job; open its exception."""
    error = unreadable_error(backend, unreadable)
    payload = {"person_id": unreadable.id, "person_email": "", "person_name": ""}
    job = backend._psa_failed_job(FLOW, unreadable.id, payload, str(error))
    return backend.env["integration.exception"]._open_from_error(job, error)
