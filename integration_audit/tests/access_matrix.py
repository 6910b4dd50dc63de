"""A table-driven access check that every addon of the suite shares.

Each addon's access test states, per role, what the addon intends: the
rights on each of its models, the window and server actions each role can
open, the menus each role sees, and who may call a given button method.
`AccessMatrixCase` creates one user per role and compares that intent with
what Odoo enforces for those users.

The lists of models, actions and menus come from the registry and from the
addon's XML ids, never from the table. A model, action or menu that the
table does not name fails the test, so a new one cannot go unchecked. The
expected rights are written out by hand and are not read back from
`ir.model.access`, which is what the test checks.
"""

import re

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import TransactionCase, new_test_user

# Roles every addon's matrix covers, as the groups of a test user. The
# public role is Odoo's own public user, the user of requests without a
# session.
ROLES = {
    "portal": ("base.group_portal",),
    "internal": ("base.group_user",),
    "integration_user": (
        "base.group_user",
        "integration_audit.group_integration_user",
    ),
    "integration_manager": (
        "base.group_user",
        "integration_audit.group_integration_manager",
    ),
    "integration_admin": (
        "base.group_user",
        "integration_audit.group_integration_admin",
    ),
    "settings_admin": ("base.group_user", "base.group_system"),
}
PUBLIC_ROLE = "public"
INTEGRATION_ROLES = ("integration_user", "integration_manager", "integration_admin")

# Rights in CRUD order: c create, r read, u update (write), d delete (unlink).
OPERATIONS = (("c", "create"), ("r", "read"), ("u", "write"), ("d", "unlink"))

SUITE_MODULES = ("integration_audit", "crm_bridge", "psa_connector", "billing_sync")

# Field names that suggest a credential. The test of each addon must classify
# every such field the addon adds, to its own models or to standard ones.
SECRET_NAME_PATTERN = re.compile(
    r"secret|token|password|passwd|private|api_?key|credential"
)


class _CallUndone(Exception):
    """Raised to roll back a call that `AccessMatrixCase.callers` allowed."""


def company_user(env, login, company, groups):
    """Return a new user who belongs to `company` alone, with `groups`."""
    return new_test_user(
        env,
        login=login,
        groups=",".join(groups),
        company_id=company.id,
        company_ids=[Command.set(company.ids)],
    )


class AccessMatrixCase(TransactionCase):
    """Base class of an addon's access matrix.

    Subclasses set `module` and may add `extra_roles` (role name to group
    XML ids) for the groups of other apps that their models rely on.
    """

    module = None
    extra_roles = {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        roles = {**ROLES, **cls.extra_roles}
        # One create for all the users: creating them one by one costs about
        # a second each with the suite's dependencies installed.
        users = (
            cls.env["res.users"]
            .with_context(no_reset_password=True)
            .create(
                [
                    {
                        "name": role.replace("_", " ").capitalize(),
                        "login": f"{cls.module}_{role}",
                        "email": f"{cls.module}_{role}@example.com",
                        "groups_id": [
                            Command.set([cls.env.ref(xmlid).id for xmlid in groups])
                        ],
                    }
                    for role, groups in roles.items()
                ]
            )
        )
        cls.role_users = dict(zip(roles, users, strict=True))
        cls.role_users[PUBLIC_ROLE] = cls.env.ref("base.public_user")

    # ------------------------------------------------------------------
    # What the addon defines
    # ------------------------------------------------------------------

    def addon_models(self):
        """Return the names of the concrete models the addon defines."""
        return {
            name
            for name, model in self.registry.items()
            if model._original_module == self.module and not model._abstract
        }

    def stored_models(self):
        """Return the addon's models whose records are kept.

        Odoo already limits the records of a transient model to the user
        who created them, so those are left out.
        """
        return {name for name in self.addon_models() if not self.env[name]._transient}

    def secret_like_fields(self):
        """Return {(model, field)} of the addon's fields named like credentials."""
        found = set()
        for name, model in self.registry.items():
            for field in model._fields.values():
                module = getattr(field, "_module", None)
                if module == self.module and SECRET_NAME_PATTERN.search(field.name):
                    found.add((name, field.name))
        return found

    def addon_records(self, model):
        """Return {XML id: record} of the addon's records of `model`."""
        rows = self.env["ir.model.data"].search(
            [("module", "=", self.module), ("model", "=", model)]
        )
        return {
            f"{self.module}.{row.name}": self.env[model].browse(row.res_id)
            for row in rows
        }

    # ------------------------------------------------------------------
    # What each role gets
    # ------------------------------------------------------------------

    def rights(self, user, model):
        """Return the CRUD letters of the operations `user` may do on `model`."""
        records = self.env[model].with_user(user)
        return "".join(
            letter for letter, operation in OPERATIONS if records.has_access(operation)
        )

    def opens_window(self, user, action):
        """Tell whether `user` can open window action `action` and list records.

        The web client loads the action and then reads records of its model,
        so the read is what decides.
        """
        if action.groups_id and not action.groups_id & user.groups_id:
            return False
        records = self.env[action.res_model].with_user(user)
        try:
            records.web_search_read([], {"display_name": {}}, limit=1)
        except AccessError:
            return False
        return True

    def runs_server_action(self, user, action):
        """Tell whether `ir.actions.server.run()` lets `user` run `action`.

        Odoo lets a user run a server action that has groups when the user
        is in one of them, and one without groups when the user may write
        its model. A denied run is also attempted for real, which raises
        before the action's code runs. An allowed one is not run, because
        scheduled actions open their own transactions.
        """
        if action.groups_id:
            allowed = bool(action.groups_id & user.groups_id)
        else:
            allowed = (
                self.env[action.model_id.model].with_user(user).has_access("write")
            )
        if not allowed:
            with self.assertRaises(AccessError, msg=f"{user.login} ran {action.name}"):
                action.with_user(user).run()
        return allowed

    def callers(self, records, method, *args):
        """Return the roles that may call `method` of `records` with `args`.

        A role may call it when the call raises no AccessError. Any other
        error fails the test. Each call runs in a savepoint that is rolled
        back, so every role starts from the same records.
        """
        allowed = set()
        for role, user in self.role_users.items():
            try:
                with self.env.cr.savepoint():
                    getattr(records.with_user(user), method)(*args)
                    raise _CallUndone
            except AccessError:
                continue
            except _CallUndone:
                allowed.add(role)
        return allowed

    def reachable_menus(self, user):
        """Return the ids of the menus `user` sees in the web client.

        Odoo hides a menu whose groups the user lacks, or whose action's
        model the user cannot read. A menu is reached only when its parents
        are shown too.
        """
        Menu = self.env["ir.ui.menu"].with_user(user)
        if not Menu.has_access("read"):
            return set()
        visible = set(Menu._visible_menu_ids())
        reachable = set()
        for menu in Menu.sudo().browse(visible):
            ancestors = menu.parent_path.rstrip("/").split("/")
            if all(int(ancestor) in visible for ancestor in ancestors):
                reachable.add(menu.id)
        return reachable

    # ------------------------------------------------------------------
    # Assertions
    # ------------------------------------------------------------------

    def assertModelRights(self, intent):
        """Check `intent`, {model: {role: CRUD letters}}, for every role.

        A role left out of a model's entry has no right on it.
        """
        self.assertEqual(
            set(intent),
            self.addon_models(),
            f"The access table of {self.module} must name exactly its models.",
        )
        actual = {}
        for model in intent:
            granted = {
                role: self.rights(user, model) for role, user in self.role_users.items()
            }
            actual[model] = {role: rights for role, rights in granted.items() if rights}
        self.maxDiff = None
        self.assertEqual(actual, intent)

    def assertActionOpeners(self, intent):
        """Check `intent`, {action XML id: roles that can open or run it}."""
        windows = self.addon_records("ir.actions.act_window")
        servers = self.addon_records("ir.actions.server")
        self.assertEqual(
            set(intent),
            set(windows) | set(servers),
            f"The action table of {self.module} must name exactly its actions.",
        )
        actual = {}
        for xmlid, action in windows.items():
            actual[xmlid] = self._roles_where(
                lambda u, a=action: self.opens_window(u, a)
            )
        for xmlid, action in servers.items():
            actual[xmlid] = self._roles_where(
                lambda u, a=action: self.runs_server_action(u, a)
            )
        self.maxDiff = None
        self.assertEqual(actual, {xmlid: set(roles) for xmlid, roles in intent.items()})

    def assertMenuViewers(self, intent):
        """Check `intent`, {menu XML id: roles that see it}."""
        menus = self.addon_records("ir.ui.menu")
        self.assertEqual(
            set(intent),
            set(menus),
            f"The menu table of {self.module} must name exactly its menus.",
        )
        reachable = {
            role: self.reachable_menus(user) for role, user in self.role_users.items()
        }
        actual = {
            xmlid: {role for role, ids in reachable.items() if menu.id in ids}
            for xmlid, menu in menus.items()
        }
        self.maxDiff = None
        self.assertEqual(actual, {xmlid: set(roles) for xmlid, roles in intent.items()})

    def assertCallers(self, records, method, roles, *args):
        """Check that exactly `roles` may call `method` of `records` with `args`."""
        self.assertEqual(
            self.callers(records, method, *args),
            set(roles),
            f"Roles that may call {records._name}.{method}",
        )

    def assertCompanyIsolation(self, user, records):
        """Check that `user`, of another company, finds none of `records`.

        `user` must have read access on each model, so that the record
        rules and not the access rights are what hide the records.
        """
        for record in records:
            model = record.with_user(user).with_context(
                allowed_company_ids=user.company_ids.ids
            )
            with self.subTest(model=record._name):
                self.assertTrue(model.browse().has_access("read"), record._name)
                found = model.search([("id", "=", record.id)])
                self.assertFalse(found, f"{record._name} of another company found")
                with self.assertRaises(AccessError):
                    model.read(["display_name"])

    def assertMaskedSecrets(self, records, fields, mask):
        """Check that every role that may read `records` sees `fields` masked.

        Each field must be set on each record; a role reads either the mask
        or nothing at all.
        """
        for role, user in self.role_users.items():
            for record in records:
                if not record.with_user(user).has_access("read"):
                    continue
                with self.subTest(role=role, model=record._name):
                    self.env.invalidate_all()
                    values = record.with_user(user).read(fields)[0]
                    shown = {name: values[name] for name in fields}
                    self.assertEqual(shown, dict.fromkeys(fields, mask))

    def assertSystemOnlyFields(self, model, fields):
        """Check that only settings administrators may read `fields`."""
        for name in fields:
            self.assertEqual(self.env[model]._fields[name].groups, "base.group_system")
        for role, user in self.role_users.items():
            if user.has_group("base.group_system"):
                continue
            records = self.env[model].with_user(user)
            with self.subTest(role=role, model=model):
                with self.assertRaises(AccessError):
                    records.search_read([], fields, limit=1)

    def _roles_where(self, predicate):
        return {role for role, user in self.role_users.items() if predicate(user)}
