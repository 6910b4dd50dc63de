"""Bulk insert of mappings: the same rows as create(), and no value left out."""

from datetime import datetime

from psycopg2.errors import UniqueViolation

from odoo.addons.integration_audit.models.bulk_insert import insert_rows
from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

MAPPING = "integration.external.id"
COMPARED_COLUMNS = (
    "backend_id",
    "company_id",
    "res_model",
    "external_model",
    "external_updated_at",
    "external_version",
    "payload_hash",
    "is_alias",
    "create_uid",
    "write_uid",
)


@tagged("post_install", "-at_install")
class TestBulkInsert(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backend = cls.env["integration.backend"].create(
            {"name": "Bulk insert", "kind": "hubspot"}
        )
        cls.partners = cls.env["res.partner"].create(
            [{"name": f"Bulk partner {number}"} for number in range(3)]
        )

    def bind_new(self, partners, prefix):
        return self.env[MAPPING]._bind_new(
            self.backend,
            "res.partner",
            [
                {
                    "res_id": partner.id,
                    "external_id": f"{prefix}{number}",
                    "external_updated_at": datetime(2024, 5, 1, 12, 0),
                    "payload_hash": "f" * 64,
                }
                for number, partner in enumerate(partners)
            ],
            "company",
        )

    def columns(self, mapping):
        self.env.cr.execute(
            f"SELECT {', '.join(COMPARED_COLUMNS)} FROM integration_external_id"
            " WHERE id = %s",
            [mapping.id],
        )
        return self.env.cr.fetchone()

    def test_rows_equal_orm_create(self):
        created = self.env[MAPPING].create(
            {
                "backend_id": self.backend.id,
                "res_model": "res.partner",
                "res_id": self.partners[0].id,
                "external_id": "orm-0",
                "external_model": "company",
                "external_updated_at": datetime(2024, 5, 1, 12, 0),
                "payload_hash": "f" * 64,
            }
        )
        inserted = self.bind_new(self.partners[1:2], "bulk-")
        self.env.flush_all()
        self.assertEqual(self.columns(inserted), self.columns(created))

    def test_records_in_order_and_found(self):
        mappings = self.bind_new(self.partners, "ordered-")
        self.assertEqual(mappings.mapped("res_id"), self.partners.ids)
        self.assertEqual(mappings.mapped("company_id"), self.backend.company_id)
        found = self.env[MAPPING]._resolve(self.backend, "res.partner", "ordered-2")
        self.assertEqual(found, self.partners[2])

    def test_second_mapping_rejected(self):
        self.bind_new(self.partners[:1], "twice-")
        with mute_logger("odoo.sql_db"), self.assertRaises(UniqueViolation):
            with self.env.cr.savepoint():
                self.bind_new(self.partners[1:2], "twice-")

    def test_missing_required_value_rejected(self):
        with self.assertRaisesRegex(ValueError, "res_id is missing"):
            insert_rows(
                self.env[MAPPING],
                [
                    {
                        "backend_id": self.backend.id,
                        "company_id": self.backend.company_id.id,
                        "res_model": "res.partner",
                        "external_id": "no-record",
                    }
                ],
            )

    def test_computed_value_required(self):
        with self.assertRaisesRegex(ValueError, "company_id is missing"):
            insert_rows(
                self.env[MAPPING],
                [
                    {
                        "backend_id": self.backend.id,
                        "res_model": "res.partner",
                        "res_id": self.partners[0].id,
                        "external_id": "no-company",
                    }
                ],
            )

    def test_unknown_field_rejected(self):
        with self.assertRaisesRegex(ValueError, "has no field colour"):
            insert_rows(self.env[MAPPING], [{"colour": "blue"}])
