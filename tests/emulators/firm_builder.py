"""Build the records of a fake firm, in a fixed order from one seed.

Every random choice comes from one `random.Random` and per-locale Fakers,
all seeded from the firm's seed and used in the same order on every run,
so two builds with the same size and seed are equal field by field.
"""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from .firm_identity import (
    TAX_ID_KINDS,
    ascii_slug,
    make_phone,
    make_receipt,
    make_tax_id,
    messy_phone,
    messy_tax_id,
    seeded_rng,
)
from .firm_model import (
    CLIENT_COUNTRY_ORDER,
    CLIENT_COUNTRY_WEIGHTS,
    COUNTRIES,
    HOME_CURRENCY,
    Address,
    Allocation,
    Client,
    Consultant,
    Contact,
    Deal,
    Expense,
    LineItem,
    Project,
    Receipt,
    Task,
    convert,
    faker_for,
    local_time_utc,
    locked_reason,
    money,
    month_starts,
    workdays,
)

FIRM_COUNTRY = "BE"

# Where consultants live; a few sit far from UTC so that dates taken from
# UTC timestamps land on the wrong day.
CONSULTANT_COUNTRIES = ("BE", "BE", "NL", "FR", "GB", "DE", "BE", "US")
FAR_TIMEZONES = ("Australia/Brisbane", "America/Denver", "Asia/Tokyo")

TITLES = (
    ("Partner", 95, 220),
    ("Principal consultant", 80, 185),
    ("Senior consultant", 62, 150),
    ("Consultant", 48, 120),
    ("Analyst", 38, 95),
    ("Designer", 52, 125),
    ("Developer", 55, 130),
)

DEPARTMENTS = ("Strategy", "Technology", "Design", "Data", "Operations")

TASKS = (
    ("T01", "Project management", True, "120"),
    ("T02", "Analysis", True, "130"),
    ("T03", "Design", True, "125"),
    ("T04", "Development", True, "135"),
    ("T05", "Testing", True, "110"),
    ("T06", "Training", True, "115"),
    ("T07", "Support", True, "105"),
    ("T08", "Internal meeting", False, "0"),
    ("T09", "Travel time", False, "0"),
)

DELIVERY_TASKS = ("T02", "T03", "T04", "T05", "T06")

TOPICS = (
    "ERP rollout",
    "Data platform",
    "Brand refresh",
    "Security audit",
    "Cloud migration",
    "Customer portal",
    "Pricing study",
    "Supply chain review",
    "CRM implementation",
    "Analytics dashboard",
    "Mobile app",
    "Process redesign",
)

INDUSTRIES = (
    "Manufacturing",
    "Retail",
    "Financial services",
    "Healthcare",
    "Logistics",
    "Energy",
    "Media",
    "Public sector",
    "Software",
)

JOB_TITLES = (
    "Chief Financial Officer",
    "Head of Operations",
    "IT Director",
    "Procurement Manager",
    "Project Sponsor",
    "Accounts Payable Clerk",
    "Marketing Lead",
)

LOST_REASONS = ("Price", "Timing", "Chose a competitor", "No budget", "No decision")

MILESTONES = (
    "Discovery and scoping",
    "Design sign-off",
    "Build complete",
    "Go-live",
    "Hypercare closed",
)

LEGAL_FORMS = {"Ltd", "LLC", "Inc", "PLC", "GmbH", "AG", "CommV", "KG", "mbH"}

BILLING_KINDS = ("time_and_materials", "fixed_price", "retainer")
BILLING_WEIGHTS = (50, 30, 20)

EXPENSE_CATEGORIES = (
    ("Train travel", "45", "180", False),
    ("Hotel", "90", "240", False),
    ("Meals", "12", "85", False),
    ("Taxi", "15", "70", False),
    ("Mileage", "0.42", "0.42", True),
)


class FirmBuilder:
    """Builds the parts of a `Firm` for one size and seed."""

    def __init__(self, size_name, size, seed, ends_on):
        self.size_name = size_name
        self.size = size
        self.seed = seed
        self.rng = seeded_rng("firm", seed)
        self.ends_on = ends_on
        self.starts_on = month_starts(ends_on, ends_on)[0]
        for _month in range(size.months - 1):
            self.starts_on = (self.starts_on - timedelta(days=1)).replace(day=1)
        self._used = set()
        self._fakers = {}
        self._staffing = {}

    def build(self):
        """Return the firm's records as keyword arguments of `Firm`."""
        name, domain = self._firm_identity()
        self.domain = domain
        locked_until, approval_cutoff = self._period_limits()

        consultants = self._consultants()
        tasks = [
            Task(key, n, billable, Decimal(rate)) for key, n, billable, rate in TASKS
        ]
        clients = [self._client(index) for index in range(self.size.clients)]
        contacts = [
            self._contact(client, position)
            for client in clients
            for position in range(self.size.contacts_per_client)
        ]

        deals = self._deals(clients, consultants)
        projects = self._projects(deals, clients, consultants)
        allocations = self._allocations(projects)

        parts = {
            "name": name,
            "domain": domain,
            "country_code": FIRM_COUNTRY,
            "home_currency": HOME_CURRENCY,
            "starts_on": self.starts_on,
            "ends_on": self.ends_on,
            "locked_until": locked_until,
            "approval_cutoff": approval_cutoff,
            "consultants": consultants,
            "tasks": tasks,
            "clients": clients,
            "contacts": contacts,
            "deals": deals,
            "projects": projects,
            "allocations": allocations,
        }
        parts["expenses"] = self._expenses(parts)
        return parts

    # Firm and period

    def _firm_identity(self):
        faker = self._faker("nl_BE")
        founders = f"{faker.last_name()} & {faker.last_name()}"
        name = f"{founders} Consulting"
        return name, f"{ascii_slug(founders, '')}.example"

    def _period_limits(self):
        """Return (locked until, approved until) for the firm's period."""
        if self.size.months >= 3:
            locked_until = month_starts(self.ends_on, self.ends_on)[0]
            locked_until = (locked_until - timedelta(days=1)).replace(day=1)
            locked_until -= timedelta(days=1)
        else:
            locked_until = self.starts_on + timedelta(days=6)
        return locked_until, self.ends_on - timedelta(days=13)

    def _moment(self, earliest, latest):
        """Return a random UTC datetime between two dates, to the second."""
        span = int((latest - earliest).total_seconds())
        start = datetime.combine(earliest, time(0), UTC)
        return start + timedelta(seconds=self.rng.randint(0, max(span, 0)))

    def _faker(self, locale):
        """Return this build's Faker of a locale, seeded on first use."""
        if locale not in self._fakers:
            self._fakers[locale] = faker_for(locale, self.seed)
        return self._fakers[locale]

    def _unique(self, value, suffix=""):
        """Return ``value + suffix``, numbered before the suffix if taken."""
        candidate, counter = value + suffix, 1
        while candidate in self._used:
            counter += 1
            candidate = f"{value}{counter}{suffix}"
        self._used.add(candidate)
        return candidate

    # Consultants

    def _consultants(self):
        return [self._consultant(index) for index in range(self.size.consultants)]

    def _consultant(self, index):
        country = COUNTRIES[CONSULTANT_COUNTRIES[index % len(CONSULTANT_COUNTRIES)]]
        faker = self._faker(country.locale)
        first, last = faker.first_name(), faker.last_name()
        local_part = f"{ascii_slug(first, '')}.{ascii_slug(last, '')}"
        email = self._unique(local_part, f"@{self.domain}")
        title, cost, rate = TITLES[index % len(TITLES)]
        timezone = country.timezone
        if index % 11 == 5:
            timezone = FAR_TIMEZONES[(index // 11) % len(FAR_TIMEZONES)]
        return Consultant(
            key=f"U{index + 1:03d}",
            first_name=first,
            last_name=last,
            name=f"{first} {last}",
            email=email,
            psa_email=email.title() if index % 7 == 3 else email,
            phone=make_phone(self.rng, country.code),
            title=title,
            department=DEPARTMENTS[index % len(DEPARTMENTS)],
            country_code=country.code,
            timezone=timezone,
            cost_rate=Decimal(cost),
            default_rate=Decimal(rate),
            weekly_capacity_hours=self.rng.choice((40, 40, 40, 36, 32)),
            is_contractor=index % 10 == 9,
            hired_on=self.starts_on - timedelta(days=self.rng.randint(60, 2500)),
        )

    # Clients and contacts

    def _client_country(self, index):
        if index < len(CLIENT_COUNTRY_ORDER):
            return COUNTRIES[CLIENT_COUNTRY_ORDER[index]]
        code = self.rng.choices(CLIENT_COUNTRY_ORDER, CLIENT_COUNTRY_WEIGHTS)[0]
        return COUNTRIES[code]

    def _client(self, index):
        country = self._client_country(index)
        faker = self._faker(country.locale)
        name = faker.company()
        trade_name = _trade_name(name)
        slug = ascii_slug(trade_name) or ascii_slug(faker.last_romanized_name())
        domain = self._unique(slug, f".{country.tld}")
        phone_e164 = make_phone(self.rng, country.code)
        vat = make_tax_id(self.rng, country.code)
        created_at = self._moment(self.starts_on - timedelta(days=900), self.starts_on)
        return Client(
            key=f"C{index + 1:03d}",
            code=self._unique(_client_code(slug)),
            name=name,
            trade_name=trade_name,
            domain=domain,
            website=f"https://www.{domain}",
            email=f"accounts@{domain}",
            phone=messy_phone(self.rng, phone_e164),
            phone_e164=phone_e164,
            address=self._address(faker, country),
            vat=vat,
            vat_as_entered=messy_tax_id(self.rng, country.code, vat),
            tax_id_kind=TAX_ID_KINDS[country.code],
            currency=country.currency,
            industry=self.rng.choice(INDUSTRIES),
            crm="hubspot" if index % 2 == 0 else "salesforce",
            lang=country.locale,
            created_at=created_at,
            updated_at=self._moment(created_at.date(), self.ends_on),
        )

    def _address(self, faker, country):
        lines = faker.street_address().split("\n")
        return Address(
            street=lines[0],
            street2=" ".join(lines[1:]),
            city=faker.city(),
            zip=faker.postcode(),
            country_code=country.code,
            country_name=country.name,
            state_code=faker.state_abbr() if country.code == "US" else None,
        )

    def _contact(self, client, position):
        country = COUNTRIES[client.address.country_code]
        faker = self._faker(country.locale)
        first, last, ascii_first, ascii_last = _person_name(faker, country)
        email = self._unique(f"{ascii_first}.{ascii_last}", f"@{client.domain}")
        typed = email
        if self.rng.random() < 0.2:
            typed = (
                f"{ascii_first.title()}.{ascii_last.title()}@{client.domain.upper()}"
            )
        phone_e164 = make_phone(self.rng, country.code)
        created_at = self._moment(client.created_at.date(), self.ends_on)
        return Contact(
            key=f"{client.key}-P{position + 1}",
            client_key=client.key,
            first_name=first,
            last_name=last,
            email=email,
            email_as_entered=typed,
            phone=messy_phone(self.rng, phone_e164),
            phone_e164=phone_e164,
            job_title=self.rng.choice(JOB_TITLES),
            is_primary=position == 0,
            crm=client.crm,
            created_at=created_at,
            updated_at=self._moment(created_at.date(), self.ends_on),
        )

    # Deals

    def _deals(self, clients, consultants):
        owners = [
            c for c in consultants if c.title in ("Partner", "Principal consultant")
        ]
        owners = owners or consultants
        plan = (
            ["won"] * self.size.won_deals
            + ["lost"] * self.size.lost_deals
            + ["open"] * self.size.open_deals
        )
        deals = []
        for index, stage in enumerate(plan):
            client = clients[index % len(clients)]
            if index >= len(clients):
                client = self.rng.choice(clients)
            owner = owners[index % len(owners)]
            deals.append(self._deal(index, stage, client, owner))
        return deals

    def _deal(self, index, stage, client, owner):
        key = f"D{index + 1:03d}"
        close_date = self._close_date(stage)
        kind = self._billing_kind(index, stage)
        items = self._line_items(key, kind, client.currency, close_date)
        created_at = self._moment(close_date - timedelta(days=120), close_date)
        won_count = index if stage == "won" else 0
        return Deal(
            key=key,
            client_key=client.key,
            crm=client.crm,
            name=f"{client.trade_name} - {self.rng.choice(TOPICS)}",
            stage=stage,
            probability={"won": 100, "lost": 0}.get(
                stage, self.rng.choice((20, 40, 60))
            ),
            currency=client.currency,
            amount=sum((item.amount for item in items), Decimal(0)),
            close_date=close_date,
            owner_email=owner.email,
            lost_reason=self.rng.choice(LOST_REASONS) if stage == "lost" else None,
            psa=(
                None
                if stage != "won"
                else ("productive" if won_count % 3 == 1 else "harvest")
            ),
            line_items=items,
            created_at=created_at,
            updated_at=self._moment(created_at.date(), min(close_date, self.ends_on)),
        )

    def _close_date(self, stage):
        if stage == "won":
            earliest, latest = (
                self.starts_on - timedelta(days=90),
                self.ends_on - timedelta(days=28),
            )
        elif stage == "lost":
            earliest, latest = self.starts_on - timedelta(days=60), self.ends_on
        else:
            earliest, latest = (
                self.ends_on + timedelta(days=10),
                self.ends_on + timedelta(days=90),
            )
        return earliest + timedelta(days=self.rng.randint(0, (latest - earliest).days))

    def _billing_kind(self, index, stage):
        if stage == "won" and index < len(BILLING_KINDS):
            return BILLING_KINDS[index]
        return self.rng.choices(BILLING_KINDS, BILLING_WEIGHTS)[0]

    def _line_items(self, deal_key, kind, currency, close_date):
        if kind == "time_and_materials":
            specs = self._hourly_specs(currency)
        elif kind == "fixed_price":
            specs = self._milestone_specs(currency, close_date)
        else:
            specs = self._retainer_specs(currency)
        return [
            LineItem(
                key=f"{deal_key}-L{number}",
                deal_key=deal_key,
                kind=kind,
                amount=money(spec["quantity"] * spec["unit_price"], currency),
                **spec,
            )
            for number, spec in enumerate(specs, start=1)
        ]

    def _hourly_specs(self, currency):
        roles = (("Senior consultant hours", "150"), ("Consultant hours", "115"))
        count = self.rng.randint(1, 2)
        return [
            {
                "name": role,
                "product_code": "CONSULT-HOUR",
                "unit": "hour",
                "quantity": Decimal(self.rng.randrange(40, 400, 8)),
                "unit_price": convert(rate, currency),
            }
            for role, rate in roles[:count]
        ]

    def _milestone_specs(self, currency, close_date):
        count = self.rng.randint(2, 4)
        return [
            {
                "name": f"Milestone {number}: {MILESTONES[number - 1]}",
                "product_code": "MILESTONE",
                "unit": "milestone",
                "quantity": Decimal(1),
                "unit_price": convert(self.rng.randrange(6000, 40000, 500), currency),
                "milestone_date": close_date + timedelta(days=30 * number),
            }
            for number in range(1, count + 1)
        ]

    def _retainer_specs(self, currency):
        return [
            {
                "name": "Monthly support retainer",
                "product_code": "RETAINER-MONTH",
                "unit": "month",
                "quantity": Decimal(self.rng.randint(3, 12)),
                "unit_price": convert(self.rng.randrange(2000, 12000, 250), currency),
            }
        ]

    # Projects and staffing

    def _projects(self, deals, clients, consultants):
        clients_by_key = {client.key: client for client in clients}
        won = [deal for deal in deals if deal.stage == "won"]
        return [
            self._project(number, deal, clients_by_key[deal.client_key], consultants)
            for number, deal in enumerate(won, start=1)
        ]

    def _project(self, number, deal, client, consultants):
        kind = deal.line_items[0].kind
        starts_on = deal.close_date + timedelta(days=self.rng.randint(3, 14))
        team = self._team(consultants)
        rate = self._hourly_rate(deal)
        budget_hours = _budget_hours(deal, rate)
        duration = _duration_days(deal, starts_on, budget_hours, len(team))
        return Project(
            key=f"P{number:03d}",
            deal_key=deal.key,
            client_key=client.key,
            psa=deal.psa,
            name=deal.name,
            code=f"{client.code}-{number:03d}",
            billing=kind,
            currency=deal.currency,
            is_billable=True,
            is_fixed_fee=kind == "fixed_price",
            fee=deal.amount if kind == "fixed_price" else None,
            hourly_rate=rate,
            budget_hours=budget_hours,
            starts_on=starts_on,
            ends_on=starts_on + timedelta(days=duration),
            manager_key=team[0].key,
            task_keys=self._project_tasks(kind),
            consultant_keys=[consultant.key for consultant in team],
            created_at=self._moment(deal.close_date, starts_on),
        )

    def _team(self, consultants):
        """Pick a project team, led by the least-staffed consultant so far."""
        low, high = self.size.consultants_per_project
        size = min(self.rng.randint(low, high), len(consultants))
        lead = min(consultants, key=lambda c: self._staffing.get(c.key, 0))
        others = [consultant for consultant in consultants if consultant is not lead]
        team = [lead, *self.rng.sample(others, size - 1)]
        for member in team:
            self._staffing[member.key] = self._staffing.get(member.key, 0) + 1
        return team

    def _hourly_rate(self, deal):
        hourly = [item for item in deal.line_items if item.unit == "hour"]
        if hourly:
            return hourly[0].unit_price
        return convert(self.rng.choice((110, 125, 140)), deal.currency)

    def _project_tasks(self, kind):
        if kind == "retainer":
            tasks = ["T01", "T07"]
        else:
            tasks = ["T01", *sorted(self.rng.sample(DELIVERY_TASKS, 3))]
        if self.rng.random() < 0.5:
            tasks.append("T08")
        return tasks

    def _allocations(self, projects):
        allocations = []
        for project in projects:
            for consultant_key in project.consultant_keys:
                allocations.append(
                    Allocation(
                        key=f"A{len(allocations) + 1:04d}",
                        consultant_key=consultant_key,
                        project_key=project.key,
                        psa=project.psa,
                        starts_on=project.starts_on,
                        ends_on=project.ends_on,
                        hours_per_day=Decimal(self.rng.randrange(4, 13)) / 2,
                    )
                )
        return allocations

    # Expenses

    def _expenses(self, parts):
        projects = {project.key: project for project in parts["projects"]}
        expenses = []
        for allocation in parts["allocations"]:
            project = projects[allocation.project_key]
            last_day = min(allocation.ends_on, self.ends_on)
            for month in month_starts(self.starts_on, self.ends_on):
                days = [
                    day
                    for day in workdays(month, _month_end(month))
                    if allocation.starts_on <= day <= last_day
                ]
                for _slot in range(2):
                    if days and self.rng.random() < self.size.expense_rate:
                        number = len(expenses)
                        expense = self._expense(
                            number, allocation, project, days, parts
                        )
                        expenses.append(expense)
        return expenses

    def _expense(self, index, allocation, project, days, parts):
        category, low, high, per_unit = self.rng.choice(EXPENSE_CATEGORIES)
        spent_date = self.rng.choice(days)
        key = f"E{index + 1:05d}"
        units = unit_price = receipt = None
        if per_unit:
            units = Decimal(self.rng.randint(12, 240))
            unit_price = convert(low, project.currency)
            amount = money(units * unit_price, project.currency)
        else:
            amount = convert(self.rng.randint(int(low), int(high)), project.currency)
            as_pdf = index % 2 == 0
            receipt = Receipt(*make_receipt(key, amount, project.currency, as_pdf))

        status, approved_at = self._expense_status(spent_date, parts)
        locked = spent_date <= parts["locked_until"]
        billable = self.rng.random() < 0.8
        minute = self.rng.randint(0, 59)
        created_at = local_time_utc(spent_date, 19, minute, "Europe/Brussels")
        return Expense(
            key=key,
            consultant_key=allocation.consultant_key,
            project_key=project.key,
            psa=project.psa,
            category=category,
            spent_date=spent_date,
            amount=amount,
            currency=project.currency,
            units=units,
            unit_price=unit_price,
            billable=billable,
            notes=f"{category} for {project.name}",
            approval_status=status,
            approved_at=approved_at,
            is_locked=locked,
            locked_reason=locked_reason(locked, billed=billable),
            is_billed=locked and billable,
            receipt=receipt,
            created_at=created_at,
            updated_at=approved_at or created_at,
        )

    def _expense_status(self, spent_date, parts):
        if spent_date <= parts["approval_cutoff"]:
            approved_on = spent_date + timedelta(days=7 - spent_date.weekday())
            return "approved", datetime.combine(approved_on, time(10, 15), UTC)
        return self.rng.choice(("submitted", "unsubmitted")), None


def _trade_name(legal_name):
    """Return the company name without its legal form (GmbH, SA, Ltd...)."""
    words = legal_name.replace(",", " ").split()
    while len(words) > 1 and (
        words[-1] in LEGAL_FORMS or words[-1].isupper() or "." in words[-1]
    ):
        words.pop()
    return " ".join(words)


def _client_code(slug):
    letters = "".join(part[0] for part in slug.split("-") if part)
    code = (letters + slug.replace("-", ""))[:3]
    return code.upper() or "CLI"


def _person_name(faker, country):
    """Return (first, last, ASCII first, ASCII last) names of one person."""
    if country.code == "JP":
        last, _kana, last_roman = faker.last_name_pair()
        first, _kana, first_roman = faker.first_name_pair()
        return first, last, first_roman.lower(), last_roman.lower()
    first, last = faker.first_name(), faker.last_name()
    return first, last, ascii_slug(first, ""), ascii_slug(last, "")


def _budget_hours(deal, rate):
    hours = sum(
        (item.quantity for item in deal.line_items if item.unit == "hour"), Decimal(0)
    )
    if hours:
        return hours
    return Decimal(int(deal.amount / rate))


def _duration_days(deal, starts_on, budget_hours, team_size):
    """Return how many calendar days the project of a won deal runs."""
    items = deal.line_items
    if items[0].kind == "retainer":
        return int(items[0].quantity) * 30
    if items[0].kind == "fixed_price":
        return (items[-1].milestone_date - starts_on).days + 14
    # Each consultant books about four hours a workday on one project.
    workdays_needed = float(budget_hours) / (4 * team_size)
    return max(60, int(workdays_needed * 7 / 5))


def _month_end(month_start):
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    return next_month - timedelta(days=1)
