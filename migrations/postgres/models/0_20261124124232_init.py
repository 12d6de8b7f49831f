from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "roles" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "name" VARCHAR(32) NOT NULL UNIQUE,
    "description" VARCHAR(255) NOT NULL,
    "permissions" JSONB NOT NULL,
    "is_staff" BOOL NOT NULL
);
CREATE TABLE IF NOT EXISTS "users" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "code" VARCHAR(16) NOT NULL UNIQUE,
    "email" VARCHAR(254) NOT NULL UNIQUE,
    "name" VARCHAR(120) NOT NULL,
    "password_hash" VARCHAR(255),
    "email_verified_at" TIMESTAMPTZ,
    "status" VARCHAR(16) NOT NULL,
    "locale" VARCHAR(8),
    "arabic_digits" BOOL NOT NULL,
    "currency" VARCHAR(3),
    "failed_logins" INT NOT NULL,
    "locked_until" TIMESTAMPTZ,
    "last_login_at" TIMESTAMPTZ,
    "referred_by_id" BIGINT REFERENCES "users" ("id") ON DELETE SET NULL
);
COMMENT ON COLUMN "users"."status" IS 'ACTIVE: active\nLOCKED: locked\nDELETED: deleted';
CREATE TABLE IF NOT EXISTS "api_tokens" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "code" VARCHAR(16) NOT NULL UNIQUE,
    "name" VARCHAR(80) NOT NULL,
    "token_hash" VARCHAR(128) NOT NULL UNIQUE,
    "prefix" VARCHAR(12) NOT NULL,
    "scopes" JSONB NOT NULL,
    "expires_at" TIMESTAMPTZ,
    "last_used_at" TIMESTAMPTZ,
    "revoked_at" TIMESTAMPTZ,
    "user_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS "device_fingerprints" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "fingerprint" VARCHAR(64) NOT NULL,
    "ip" VARCHAR(45) NOT NULL,
    "last_seen_at" TIMESTAMPTZ NOT NULL,
    "user_id" BIGINT REFERENCES "users" ("id") ON DELETE SET NULL,
    CONSTRAINT "uid_device_fing_user_id_9f0ce6" UNIQUE ("user_id", "fingerprint")
);
CREATE INDEX IF NOT EXISTS "idx_device_fing_fingerp_5df963" ON "device_fingerprints" ("fingerprint");
COMMENT ON TABLE "device_fingerprints" IS 'A hash of stable request traits, for one-trial-per-device and new-device notices.';
CREATE TABLE IF NOT EXISTS "login_events" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "email" VARCHAR(254) NOT NULL,
    "success" BOOL NOT NULL,
    "reason" VARCHAR(32) NOT NULL,
    "ip" VARCHAR(45) NOT NULL,
    "user_agent" VARCHAR(255) NOT NULL,
    "fingerprint" VARCHAR(64) NOT NULL,
    "user_id" BIGINT REFERENCES "users" ("id") ON DELETE SET NULL
);
CREATE INDEX IF NOT EXISTS "idx_login_event_email_475671" ON "login_events" ("email", "created_at");
CREATE INDEX IF NOT EXISTS "idx_login_event_user_id_b58c8d" ON "login_events" ("user_id", "created_at");
CREATE TABLE IF NOT EXISTS "oauth_identities" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "provider" VARCHAR(32) NOT NULL,
    "subject" VARCHAR(255) NOT NULL,
    "email" VARCHAR(254),
    "user_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_oauth_ident_provide_225c88" UNIQUE ("provider", "subject")
);
CREATE TABLE IF NOT EXISTS "otp_codes" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "purpose" VARCHAR(16) NOT NULL,
    "code_hash" VARCHAR(128) NOT NULL,
    "expires_at" TIMESTAMPTZ NOT NULL,
    "attempts" INT NOT NULL,
    "used_at" TIMESTAMPTZ,
    "user_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "idx_otp_codes_user_id_141945" ON "otp_codes" ("user_id", "purpose", "created_at");
COMMENT ON COLUMN "otp_codes"."purpose" IS 'VERIFY_EMAIL: verify_email\nLOGIN: login';
CREATE TABLE IF NOT EXISTS "password_reset_tokens" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "token_hash" VARCHAR(128) NOT NULL UNIQUE,
    "expires_at" TIMESTAMPTZ NOT NULL,
    "used_at" TIMESTAMPTZ,
    "user_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS "recovery_codes" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "code_hash" VARCHAR(128) NOT NULL,
    "used_at" TIMESTAMPTZ,
    "user_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS "service_beneficiaries" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "code" VARCHAR(16) NOT NULL UNIQUE,
    "name" VARCHAR(160) NOT NULL,
    "country" VARCHAR(2),
    "tax_id" VARCHAR(64),
    "address" TEXT NOT NULL,
    "owner_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE
);
COMMENT ON TABLE "service_beneficiaries" IS 'The company an ERP is for; a customer may run systems for several.';
CREATE TABLE IF NOT EXISTS "team_members" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "can_write" BOOL NOT NULL,
    "beneficiary_id" BIGINT NOT NULL REFERENCES "service_beneficiaries" ("id") ON DELETE CASCADE,
    "user_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_team_member_benefic_43c8b5" UNIQUE ("beneficiary_id", "user_id")
);
COMMENT ON TABLE "team_members" IS 'Another user''s access to a beneficiary''s systems (read-only or full).';
CREATE TABLE IF NOT EXISTS "totp_devices" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "secret_encrypted" TEXT NOT NULL,
    "confirmed_at" TIMESTAMPTZ,
    "last_used_step" BIGINT NOT NULL,
    "user_id" BIGINT NOT NULL UNIQUE REFERENCES "users" ("id") ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS "user_roles" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "role_id" BIGINT NOT NULL REFERENCES "roles" ("id") ON DELETE CASCADE,
    "user_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_user_roles_user_id_63f1a8" UNIQUE ("user_id", "role_id")
);
CREATE TABLE IF NOT EXISTS "user_sessions" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "code" VARCHAR(16) NOT NULL UNIQUE,
    "ip" VARCHAR(45) NOT NULL,
    "user_agent" VARCHAR(255) NOT NULL,
    "last_seen_at" TIMESTAMPTZ NOT NULL,
    "revoked_at" TIMESTAMPTZ,
    "user_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE
);
COMMENT ON TABLE "user_sessions" IS 'A signed-in browser: listed in the account page, revocable one by one.';
CREATE TABLE IF NOT EXISTS "packages" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "code" VARCHAR(16) NOT NULL UNIQUE,
    "slug" VARCHAR(64) NOT NULL UNIQUE,
    "name_en" VARCHAR(120) NOT NULL,
    "name_ar" VARCHAR(120) NOT NULL,
    "description_en" TEXT NOT NULL,
    "description_ar" TEXT NOT NULL,
    "included_users" INT NOT NULL,
    "storage_gb" INT NOT NULL,
    "backup_schedule" VARCHAR(16) NOT NULL,
    "erp" VARCHAR(16) NOT NULL,
    "tryton_modules" JSONB NOT NULL,
    "is_active" BOOL NOT NULL,
    "is_public" BOOL NOT NULL,
    "sort_order" INT NOT NULL
);
CREATE INDEX IF NOT EXISTS "idx_packages_is_acti_f43753" ON "packages" ("is_active", "is_public", "sort_order");
CREATE TABLE IF NOT EXISTS "package_periods" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "period" VARCHAR(16) NOT NULL,
    "months" INT NOT NULL,
    "currency" VARCHAR(3) NOT NULL,
    "price_minor" INT NOT NULL,
    "setup_fee_minor" INT NOT NULL,
    "trial_days" INT NOT NULL,
    "is_active" BOOL NOT NULL,
    "package_id" BIGINT NOT NULL REFERENCES "packages" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_package_per_package_7cc4b5" UNIQUE ("package_id", "period", "currency")
);
COMMENT ON COLUMN "package_periods"."period" IS 'MONTHLY: monthly\nQUARTERLY: quarterly\nSEMIANNUAL: semiannual\nYEARLY: yearly';
COMMENT ON TABLE "package_periods" IS 'One price of a package: a billing period in a currency.';
CREATE TABLE IF NOT EXISTS "promo_codes" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "code" VARCHAR(32) NOT NULL UNIQUE,
    "description" VARCHAR(255) NOT NULL,
    "kind" VARCHAR(8) NOT NULL,
    "value" INT NOT NULL,
    "currency" VARCHAR(3),
    "periods" JSONB NOT NULL,
    "max_uses" INT,
    "per_user_max" INT NOT NULL,
    "uses_count" INT NOT NULL,
    "starts_at" TIMESTAMPTZ,
    "expires_at" TIMESTAMPTZ,
    "first_n_cycles" INT,
    "is_active" BOOL NOT NULL
);
COMMENT ON COLUMN "promo_codes"."kind" IS 'PERCENT: percent\nFIXED: fixed';
CREATE TABLE IF NOT EXISTS "special_pricings" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "period" VARCHAR(16),
    "currency" VARCHAR(3),
    "kind" VARCHAR(8) NOT NULL,
    "value" INT NOT NULL,
    "valid_from" TIMESTAMPTZ,
    "valid_until" TIMESTAMPTZ,
    "note" TEXT NOT NULL,
    "package_id" BIGINT NOT NULL REFERENCES "packages" ("id") ON DELETE CASCADE,
    "user_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "idx_special_pri_user_id_160689" ON "special_pricings" ("user_id", "package_id");
COMMENT ON COLUMN "special_pricings"."period" IS 'MONTHLY: monthly\nQUARTERLY: quarterly\nSEMIANNUAL: semiannual\nYEARLY: yearly';
COMMENT ON COLUMN "special_pricings"."kind" IS 'FIXED: fixed\nPERCENT: percent';
COMMENT ON TABLE "special_pricings" IS 'A price staff agreed with one customer; wins over the list price while valid.';
CREATE TABLE IF NOT EXISTS "tax_rates" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "country" VARCHAR(2) NOT NULL UNIQUE,
    "rate_bp" INT NOT NULL,
    "name" VARCHAR(64) NOT NULL
);
CREATE TABLE IF NOT EXISTS "subscriptions" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "code" VARCHAR(16) NOT NULL UNIQUE,
    "currency" VARCHAR(3) NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "price_minor" INT NOT NULL,
    "auto_renew" BOOL NOT NULL,
    "trial_ends_at" TIMESTAMPTZ,
    "current_period_start" TIMESTAMPTZ,
    "current_period_end" TIMESTAMPTZ,
    "cancel_at_period_end" BOOL NOT NULL,
    "cancelled_at" TIMESTAMPTZ,
    "suspended_at" TIMESTAMPTZ,
    "past_due_since" TIMESTAMPTZ,
    "promo_cycles_left" INT,
    "beneficiary_id" BIGINT NOT NULL REFERENCES "service_beneficiaries" ("id") ON DELETE RESTRICT,
    "package_id" BIGINT NOT NULL REFERENCES "packages" ("id") ON DELETE RESTRICT,
    "period_id" BIGINT NOT NULL REFERENCES "package_periods" ("id") ON DELETE RESTRICT,
    "promo_id" BIGINT REFERENCES "promo_codes" ("id") ON DELETE SET NULL,
    "user_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE RESTRICT
);
CREATE INDEX IF NOT EXISTS "idx_subscriptio_status_d0bb02" ON "subscriptions" ("status", "current_period_end");
CREATE INDEX IF NOT EXISTS "idx_subscriptio_status_82e31a" ON "subscriptions" ("status", "trial_ends_at");
CREATE INDEX IF NOT EXISTS "idx_subscriptio_user_id_cb1c62" ON "subscriptions" ("user_id", "status");
COMMENT ON COLUMN "subscriptions"."status" IS 'TRIAL: trial\nACTIVE: active\nPAST_DUE: past_due\nSUSPENDED: suspended\nCANCELLED: cancelled\nEXPIRED: expired';
CREATE TABLE IF NOT EXISTS "promo_redemptions" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "discount_minor" INT NOT NULL,
    "currency" VARCHAR(3),
    "idempotency_key" VARCHAR(128) NOT NULL UNIQUE,
    "promo_id" BIGINT NOT NULL REFERENCES "promo_codes" ("id") ON DELETE RESTRICT,
    "subscription_id" BIGINT REFERENCES "subscriptions" ("id") ON DELETE SET NULL,
    "user_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "idx_promo_redem_promo_i_b2782d" ON "promo_redemptions" ("promo_id", "user_id");
CREATE TABLE IF NOT EXISTS "subscription_history" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "event" VARCHAR(32) NOT NULL,
    "from_status" VARCHAR(16),
    "to_status" VARCHAR(16),
    "detail" JSONB NOT NULL,
    "actor_id" BIGINT REFERENCES "users" ("id") ON DELETE SET NULL,
    "subscription_id" BIGINT NOT NULL REFERENCES "subscriptions" ("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "idx_subscriptio_subscri_9cea63" ON "subscription_history" ("subscription_id", "created_at");
COMMENT ON COLUMN "subscription_history"."from_status" IS 'TRIAL: trial\nACTIVE: active\nPAST_DUE: past_due\nSUSPENDED: suspended\nCANCELLED: cancelled\nEXPIRED: expired';
COMMENT ON COLUMN "subscription_history"."to_status" IS 'TRIAL: trial\nACTIVE: active\nPAST_DUE: past_due\nSUSPENDED: suspended\nCANCELLED: cancelled\nEXPIRED: expired';
CREATE TABLE IF NOT EXISTS "subscription_reminders" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "kind" VARCHAR(32) NOT NULL,
    "period_end" TIMESTAMPTZ NOT NULL,
    "subscription_id" BIGINT NOT NULL REFERENCES "subscriptions" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_subscriptio_subscri_3c18b1" UNIQUE ("subscription_id", "kind", "period_end")
);
COMMENT ON TABLE "subscription_reminders" IS 'A reminder sent; unique per period so a rerun of the clock never sends it twice.';
CREATE TABLE IF NOT EXISTS "invoices" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "code" VARCHAR(16) NOT NULL UNIQUE,
    "number" VARCHAR(32) UNIQUE,
    "status" VARCHAR(8) NOT NULL,
    "kind" VARCHAR(16) NOT NULL,
    "currency" VARCHAR(3) NOT NULL,
    "subtotal_minor" INT NOT NULL,
    "tax_minor" INT NOT NULL,
    "total_minor" INT NOT NULL,
    "tax_rate_bp" INT NOT NULL,
    "buyer" JSONB,
    "seller" JSONB,
    "locale" VARCHAR(8) NOT NULL,
    "issued_at" TIMESTAMPTZ,
    "due_at" TIMESTAMPTZ,
    "paid_at" TIMESTAMPTZ,
    "voided_at" TIMESTAMPTZ,
    "pdf_path" VARCHAR(255),
    "beneficiary_id" BIGINT REFERENCES "service_beneficiaries" ("id") ON DELETE RESTRICT,
    "credit_for_id" BIGINT REFERENCES "invoices" ("id") ON DELETE RESTRICT,
    "subscription_id" BIGINT REFERENCES "subscriptions" ("id") ON DELETE RESTRICT,
    "user_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE RESTRICT
);
CREATE INDEX IF NOT EXISTS "idx_invoices_user_id_aa546d" ON "invoices" ("user_id", "created_at");
CREATE INDEX IF NOT EXISTS "idx_invoices_status_5819f4" ON "invoices" ("status", "due_at");
COMMENT ON COLUMN "invoices"."status" IS 'DRAFT: draft\nOPEN: open\nPAID: paid\nVOID: void';
COMMENT ON COLUMN "invoices"."kind" IS 'INVOICE: invoice\nCREDIT_NOTE: credit_note';
COMMENT ON TABLE "invoices" IS 'Immutable once issued (number set); corrections are credit notes pointing back here.';
CREATE TABLE IF NOT EXISTS "invoice_lines" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "description" VARCHAR(255) NOT NULL,
    "quantity" INT NOT NULL,
    "unit_price_minor" INT NOT NULL,
    "amount_minor" INT NOT NULL,
    "sort_order" INT NOT NULL,
    "invoice_id" BIGINT NOT NULL REFERENCES "invoices" ("id") ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS "invoice_sequences" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "prefix" VARCHAR(16) NOT NULL,
    "year" INT NOT NULL,
    "last_number" INT NOT NULL,
    CONSTRAINT "uid_invoice_seq_prefix_2df66b" UNIQUE ("prefix", "year")
);
COMMENT ON TABLE "invoice_sequences" IS 'Gap-free numbering: the row is locked while a number is taken.';
CREATE TABLE IF NOT EXISTS "payment_events" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "gateway" VARCHAR(16) NOT NULL,
    "event_id" VARCHAR(128) NOT NULL,
    "event_type" VARCHAR(64) NOT NULL,
    "payload" JSONB NOT NULL,
    "verified" BOOL NOT NULL,
    "processed_at" TIMESTAMPTZ,
    "error" TEXT NOT NULL,
    CONSTRAINT "uid_payment_eve_gateway_52c953" UNIQUE ("gateway", "event_id")
);
CREATE INDEX IF NOT EXISTS "idx_payment_eve_process_6a1d81" ON "payment_events" ("processed_at", "created_at");
COMMENT ON TABLE "payment_events" IS 'The webhook inbox: stored before it is applied, unique so a resend is applied once.';
CREATE TABLE IF NOT EXISTS "wallets" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "code" VARCHAR(16) NOT NULL UNIQUE,
    "currency" VARCHAR(3) NOT NULL,
    "balance_minor" BIGINT NOT NULL,
    "user_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE RESTRICT,
    CONSTRAINT "uid_wallets_user_id_7dec3a" UNIQUE ("user_id", "currency")
);
CREATE TABLE IF NOT EXISTS "payments" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "code" VARCHAR(16) NOT NULL UNIQUE,
    "gateway" VARCHAR(16) NOT NULL,
    "gateway_order_id" VARCHAR(64),
    "gateway_capture_id" VARCHAR(64) UNIQUE,
    "amount_minor" INT NOT NULL,
    "currency" VARCHAR(3) NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "captured_at" TIMESTAMPTZ,
    "gateway_response" JSONB NOT NULL,
    "invoice_id" BIGINT REFERENCES "invoices" ("id") ON DELETE RESTRICT,
    "user_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE RESTRICT,
    "wallet_id" BIGINT REFERENCES "wallets" ("id") ON DELETE RESTRICT
);
CREATE INDEX IF NOT EXISTS "idx_payments_gateway_2cfdee" ON "payments" ("gateway_order_id");
CREATE INDEX IF NOT EXISTS "idx_payments_user_id_d6dc35" ON "payments" ("user_id", "created_at");
CREATE INDEX IF NOT EXISTS "idx_payments_status_33acf4" ON "payments" ("status", "created_at");
COMMENT ON COLUMN "payments"."status" IS 'CREATED: created\nAPPROVED: approved\nCAPTURED: captured\nDENIED: denied\nREFUNDED: refunded\nFAILED: failed';
CREATE TABLE IF NOT EXISTS "refunds" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "code" VARCHAR(16) NOT NULL UNIQUE,
    "amount_minor" INT NOT NULL,
    "currency" VARCHAR(3) NOT NULL,
    "destination" VARCHAR(8) NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "gateway_refund_id" VARCHAR(64) UNIQUE,
    "idempotency_key" VARCHAR(128) NOT NULL UNIQUE,
    "reason" TEXT NOT NULL,
    "error" TEXT NOT NULL,
    "completed_at" TIMESTAMPTZ,
    "actor_id" BIGINT REFERENCES "users" ("id") ON DELETE SET NULL,
    "credit_note_id" BIGINT REFERENCES "invoices" ("id") ON DELETE RESTRICT,
    "invoice_id" BIGINT REFERENCES "invoices" ("id") ON DELETE RESTRICT,
    "payment_id" BIGINT REFERENCES "payments" ("id") ON DELETE RESTRICT
);
COMMENT ON COLUMN "refunds"."destination" IS 'WALLET: wallet\nGATEWAY: gateway';
COMMENT ON COLUMN "refunds"."status" IS 'PENDING: pending\nSUCCEEDED: succeeded\nFAILED: failed';
CREATE TABLE IF NOT EXISTS "wallet_transactions" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "kind" VARCHAR(24) NOT NULL,
    "amount_minor" BIGINT NOT NULL,
    "balance_after_minor" BIGINT NOT NULL,
    "reference" VARCHAR(64) NOT NULL,
    "idempotency_key" VARCHAR(128) NOT NULL UNIQUE,
    "description" VARCHAR(255) NOT NULL,
    "actor_id" BIGINT REFERENCES "users" ("id") ON DELETE SET NULL,
    "wallet_id" BIGINT NOT NULL REFERENCES "wallets" ("id") ON DELETE RESTRICT
);
CREATE INDEX IF NOT EXISTS "idx_wallet_tran_wallet__361d0e" ON "wallet_transactions" ("wallet_id", "created_at");
COMMENT ON COLUMN "wallet_transactions"."kind" IS 'RECHARGE: recharge\nCHARGE: charge\nREFUND: refund\nADJUSTMENT: adjustment\nREFERRAL_WITHDRAWAL: referral_withdrawal\nREVERSAL: reversal';
COMMENT ON TABLE "wallet_transactions" IS 'A ledger entry: appended, never updated or deleted; a mistake is fixed by a reversal.';
CREATE TABLE IF NOT EXISTS "servers" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "code" VARCHAR(16) NOT NULL UNIQUE,
    "name" VARCHAR(64) NOT NULL UNIQUE,
    "host" VARCHAR(255) NOT NULL,
    "port" INT NOT NULL,
    "ssh_user" VARCHAR(32) NOT NULL,
    "ssh_key_encrypted" TEXT,
    "host_key" TEXT,
    "driver" VARCHAR(8) NOT NULL,
    "region" VARCHAR(32) NOT NULL,
    "capacity" INT NOT NULL,
    "sites_count" INT NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "consecutive_failures" INT NOT NULL,
    "last_check_at" TIMESTAMPTZ,
    "last_ok_at" TIMESTAMPTZ,
    "tryton_port" INT NOT NULL,
    "sites_root" VARCHAR(255) NOT NULL,
    "db_backend" VARCHAR(8) NOT NULL,
    "notes" TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS "idx_servers_region_4d0258" ON "servers" ("region", "status");
COMMENT ON COLUMN "servers"."driver" IS 'LOCAL: local\nSSH: ssh';
COMMENT ON COLUMN "servers"."status" IS 'NEW: new\nBOOTSTRAPPING: bootstrapping\nACTIVE: active\nDRAINING: draining\nUNREACHABLE: unreachable\nRETIRED: retired';
COMMENT ON COLUMN "servers"."db_backend" IS 'SQLITE: sqlite\nPOSTGRES: postgres';
CREATE TABLE IF NOT EXISTS "launches" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "code" VARCHAR(16) NOT NULL UNIQUE,
    "subdomain" VARCHAR(63) NOT NULL UNIQUE,
    "custom_domain" VARCHAR(253) UNIQUE,
    "site_name" VARCHAR(63) NOT NULL UNIQUE,
    "status" VARCHAR(16) NOT NULL,
    "is_trial" BOOL NOT NULL,
    "is_standby" BOOL NOT NULL,
    "erp" VARCHAR(16) NOT NULL,
    "erp_version" VARCHAR(16) NOT NULL,
    "url" VARCHAR(255) NOT NULL,
    "db_backend" VARCHAR(8) NOT NULL,
    "suspended_at" TIMESTAMPTZ,
    "deleted_at" TIMESTAMPTZ,
    "beneficiary_id" BIGINT REFERENCES "service_beneficiaries" ("id") ON DELETE RESTRICT,
    "package_id" BIGINT NOT NULL REFERENCES "packages" ("id") ON DELETE RESTRICT,
    "server_id" BIGINT REFERENCES "servers" ("id") ON DELETE RESTRICT,
    "subscription_id" BIGINT REFERENCES "subscriptions" ("id") ON DELETE SET NULL,
    "user_id" BIGINT REFERENCES "users" ("id") ON DELETE RESTRICT
);
CREATE INDEX IF NOT EXISTS "idx_launches_status_9adeda" ON "launches" ("status");
CREATE INDEX IF NOT EXISTS "idx_launches_server__c94e90" ON "launches" ("server_id", "is_standby");
CREATE INDEX IF NOT EXISTS "idx_launches_user_id_96a2ae" ON "launches" ("user_id", "status");
CREATE INDEX IF NOT EXISTS "idx_launches_package_4e0e2e" ON "launches" ("package_id", "is_standby", "status");
COMMENT ON COLUMN "launches"."status" IS 'PENDING: pending\nPROVISIONING: provisioning\nACTIVE: active\nSUSPENDED: suspended\nDELETING: deleting\nDELETED: deleted\nFAILED: failed';
COMMENT ON COLUMN "launches"."db_backend" IS 'SQLITE: sqlite\nPOSTGRES: postgres';
COMMENT ON TABLE "launches" IS 'A deployed ERP site. Deletion is a status: the row outlives the site for billing.';
CREATE TABLE IF NOT EXISTS "backups" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "code" VARCHAR(16) NOT NULL UNIQUE,
    "kind" VARCHAR(16) NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "path" VARCHAR(512) NOT NULL,
    "size_bytes" BIGINT NOT NULL,
    "sha256" VARCHAR(64) NOT NULL,
    "replica_path" VARCHAR(512) NOT NULL,
    "replica_verified_at" TIMESTAMPTZ,
    "error" TEXT NOT NULL,
    "finished_at" TIMESTAMPTZ,
    "launch_id" BIGINT NOT NULL REFERENCES "launches" ("id") ON DELETE CASCADE,
    "replica_server_id" BIGINT REFERENCES "servers" ("id") ON DELETE SET NULL,
    "server_id" BIGINT REFERENCES "servers" ("id") ON DELETE SET NULL
);
CREATE INDEX IF NOT EXISTS "idx_backups_launch__6fd246" ON "backups" ("launch_id", "created_at");
CREATE INDEX IF NOT EXISTS "idx_backups_status_3be40a" ON "backups" ("status", "created_at");
COMMENT ON COLUMN "backups"."kind" IS 'SCHEDULED: scheduled\nMANUAL: manual\nPRE_RESTORE: pre_restore';
COMMENT ON COLUMN "backups"."status" IS 'RUNNING: running\nSUCCEEDED: succeeded\nFAILED: failed';
CREATE TABLE IF NOT EXISTS "certificates" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "domain" VARCHAR(253) NOT NULL,
    "kind" VARCHAR(16) NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "issued_at" TIMESTAMPTZ,
    "expires_at" TIMESTAMPTZ,
    "error" TEXT NOT NULL,
    "launch_id" BIGINT NOT NULL REFERENCES "launches" ("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "idx_certificate_status_99ee97" ON "certificates" ("status", "expires_at");
CREATE INDEX IF NOT EXISTS "idx_certificate_launch__9c7ef8" ON "certificates" ("launch_id", "domain");
COMMENT ON COLUMN "certificates"."kind" IS 'SELF_SIGNED: self_signed\nACME: acme';
COMMENT ON COLUMN "certificates"."status" IS 'PENDING: pending\nISSUED: issued\nFAILED: failed\nEXPIRED: expired';
CREATE TABLE IF NOT EXISTS "custom_domains" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "code" VARCHAR(16) NOT NULL UNIQUE,
    "domain" VARCHAR(253) NOT NULL UNIQUE,
    "status" VARCHAR(16) NOT NULL,
    "verification_token" VARCHAR(64) NOT NULL,
    "verified_at" TIMESTAMPTZ,
    "last_checked_at" TIMESTAMPTZ,
    "last_error" TEXT NOT NULL,
    "launch_id" BIGINT NOT NULL REFERENCES "launches" ("id") ON DELETE CASCADE
);
COMMENT ON COLUMN "custom_domains"."status" IS 'PENDING: pending\nVERIFIED: verified\nACTIVE: active\nFAILED: failed';
CREATE TABLE IF NOT EXISTS "launch_credentials" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "username" VARCHAR(64) NOT NULL,
    "password_encrypted" TEXT NOT NULL,
    "rotated_at" TIMESTAMPTZ,
    "launch_id" BIGINT NOT NULL UNIQUE REFERENCES "launches" ("id") ON DELETE CASCADE
);
COMMENT ON TABLE "launch_credentials" IS 'The ERP admin login; the password is encrypted with the settings-derived key.';
CREATE TABLE IF NOT EXISTS "usage_samples" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "sampled_at" TIMESTAMPTZ NOT NULL,
    "cpu_pct" DOUBLE PRECISION NOT NULL,
    "mem_bytes" BIGINT NOT NULL,
    "disk_bytes" BIGINT NOT NULL,
    "db_bytes" BIGINT NOT NULL,
    "active_users" INT NOT NULL,
    "launch_id" BIGINT REFERENCES "launches" ("id") ON DELETE CASCADE,
    "server_id" BIGINT REFERENCES "servers" ("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "idx_usage_sampl_launch__ec242b" ON "usage_samples" ("launch_id", "sampled_at");
CREATE INDEX IF NOT EXISTS "idx_usage_sampl_server__7be41f" ON "usage_samples" ("server_id", "sampled_at");
COMMENT ON TABLE "usage_samples" IS 'One measurement of a site (launch set) or of a whole server (launch null).';
CREATE TABLE IF NOT EXISTS "saas_operations" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "code" VARCHAR(16) NOT NULL UNIQUE,
    "kind" VARCHAR(24) NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "progress" INT NOT NULL,
    "steps" JSONB NOT NULL,
    "current_step" VARCHAR(64) NOT NULL,
    "params" JSONB NOT NULL,
    "result" JSONB NOT NULL,
    "attempts" INT NOT NULL,
    "max_attempts" INT NOT NULL,
    "lease_owner" VARCHAR(128),
    "lease_until" TIMESTAMPTZ,
    "heartbeat_at" TIMESTAMPTZ,
    "started_at" TIMESTAMPTZ,
    "finished_at" TIMESTAMPTZ,
    "error_message" TEXT NOT NULL,
    "error_detail" TEXT NOT NULL,
    "step_timeout_s" INT NOT NULL,
    "launch_id" BIGINT REFERENCES "launches" ("id") ON DELETE SET NULL,
    "parent_id" BIGINT REFERENCES "saas_operations" ("id") ON DELETE SET NULL,
    "server_id" BIGINT REFERENCES "servers" ("id") ON DELETE SET NULL,
    "user_id" BIGINT REFERENCES "users" ("id") ON DELETE SET NULL
);
CREATE INDEX IF NOT EXISTS "idx_saas_operat_status_7099a1" ON "saas_operations" ("status", "lease_until");
CREATE INDEX IF NOT EXISTS "idx_saas_operat_kind_21c281" ON "saas_operations" ("kind", "status");
CREATE INDEX IF NOT EXISTS "idx_saas_operat_launch__2d07c6" ON "saas_operations" ("launch_id", "created_at");
CREATE INDEX IF NOT EXISTS "idx_saas_operat_server__d8035b" ON "saas_operations" ("server_id", "created_at");
COMMENT ON COLUMN "saas_operations"."kind" IS 'PROVISION: provision\nDELETE: delete\nCHANGE_PASSWORD: change_password\nCHANGE_DOMAIN: change_domain\nISSUE_SSL: issue_ssl\nBACKUP: backup\nRESTORE: restore\nINSTALL_ADDON: install_addon\nUNINSTALL_ADDON: uninstall_addon\nSUSPEND: suspend\nRESUME: resume\nBOOTSTRAP_SERVER: bootstrap_server\nWARM_POOL: warm_pool\nBULK_UPDATE: bulk_update';
COMMENT ON COLUMN "saas_operations"."status" IS 'QUEUED: queued\nRUNNING: running\nSUCCEEDED: succeeded\nFAILED: failed\nCANCELLED: cancelled';
CREATE TABLE IF NOT EXISTS "operation_logs" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "seq" INT NOT NULL,
    "level" VARCHAR(8) NOT NULL,
    "line" TEXT NOT NULL,
    "operation_id" BIGINT NOT NULL REFERENCES "saas_operations" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_operation_l_operati_221d52" UNIQUE ("operation_id", "seq")
);
COMMENT ON COLUMN "operation_logs"."level" IS 'INFO: info\nWARNING: warning\nERROR: error';
COMMENT ON TABLE "operation_logs" IS 'One output line. ``seq`` is the SSE event id: Last-Event-ID resumes after it.';
CREATE TABLE IF NOT EXISTS "operation_steps" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "name" VARCHAR(64) NOT NULL,
    "position" INT NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "started_at" TIMESTAMPTZ,
    "finished_at" TIMESTAMPTZ,
    "message" TEXT NOT NULL,
    "operation_id" BIGINT NOT NULL REFERENCES "saas_operations" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_operation_s_operati_4a950c" UNIQUE ("operation_id", "name")
);
COMMENT ON COLUMN "operation_steps"."status" IS 'PENDING: pending\nRUNNING: running\nSUCCEEDED: succeeded\nFAILED: failed\nSKIPPED: skipped';
CREATE TABLE IF NOT EXISTS "firewall_rules" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "direction" VARCHAR(4) NOT NULL,
    "action" VARCHAR(8) NOT NULL,
    "protocol" VARCHAR(4) NOT NULL,
    "port" INT,
    "source" VARCHAR(43) NOT NULL,
    "note" VARCHAR(255) NOT NULL,
    "is_applied" BOOL NOT NULL,
    "server_id" BIGINT NOT NULL REFERENCES "servers" ("id") ON DELETE CASCADE
);
COMMENT ON COLUMN "firewall_rules"."direction" IS 'INBOUND: in\nOUTBOUND: out';
COMMENT ON COLUMN "firewall_rules"."action" IS 'ALLOW: allow\nDENY: deny';
COMMENT ON COLUMN "firewall_rules"."protocol" IS 'TCP: tcp\nUDP: udp';
CREATE TABLE IF NOT EXISTS "server_health_samples" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "sampled_at" TIMESTAMPTZ NOT NULL,
    "ok" BOOL NOT NULL,
    "load1" DOUBLE PRECISION,
    "mem_used_pct" DOUBLE PRECISION,
    "disk_used_pct" DOUBLE PRECISION,
    "detail" JSONB NOT NULL,
    "server_id" BIGINT NOT NULL REFERENCES "servers" ("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "idx_server_heal_server__9992bf" ON "server_health_samples" ("server_id", "sampled_at");
CREATE TABLE IF NOT EXISTS "app_contacts" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "name" VARCHAR(120) NOT NULL,
    "email" VARCHAR(254) NOT NULL,
    "subject" VARCHAR(200) NOT NULL,
    "message" TEXT NOT NULL,
    "ip" VARCHAR(45) NOT NULL,
    "handled_at" TIMESTAMPTZ,
    "handled_by_id" BIGINT REFERENCES "users" ("id") ON DELETE SET NULL
);
CREATE INDEX IF NOT EXISTS "idx_app_contact_handled_4ff026" ON "app_contacts" ("handled_at", "created_at");
COMMENT ON TABLE "app_contacts" IS 'A contact-form message from a visitor who may have no account.';
CREATE TABLE IF NOT EXISTS "canned_replies" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "title" VARCHAR(120) NOT NULL,
    "body_en" TEXT NOT NULL,
    "body_ar" TEXT NOT NULL,
    "department" VARCHAR(16)
);
COMMENT ON COLUMN "canned_replies"."department" IS 'SALES: sales\nBILLING: billing\nTECHNICAL: technical\nGENERAL: general';
CREATE TABLE IF NOT EXISTS "support_tickets" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "code" VARCHAR(16) NOT NULL UNIQUE,
    "subject" VARCHAR(200) NOT NULL,
    "department" VARCHAR(16) NOT NULL,
    "priority" VARCHAR(8) NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "last_reply_at" TIMESTAMPTZ,
    "first_response_due_at" TIMESTAMPTZ,
    "first_response_at" TIMESTAMPTZ,
    "resolution_due_at" TIMESTAMPTZ,
    "closed_at" TIMESTAMPTZ,
    "assignee_id" BIGINT REFERENCES "users" ("id") ON DELETE SET NULL,
    "beneficiary_id" BIGINT REFERENCES "service_beneficiaries" ("id") ON DELETE SET NULL,
    "launch_id" BIGINT REFERENCES "launches" ("id") ON DELETE SET NULL,
    "user_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "idx_support_tic_status_5b4306" ON "support_tickets" ("status", "department");
CREATE INDEX IF NOT EXISTS "idx_support_tic_user_id_ac645b" ON "support_tickets" ("user_id", "status");
CREATE INDEX IF NOT EXISTS "idx_support_tic_assigne_a2da80" ON "support_tickets" ("assignee_id", "status");
COMMENT ON COLUMN "support_tickets"."department" IS 'SALES: sales\nBILLING: billing\nTECHNICAL: technical\nGENERAL: general';
COMMENT ON COLUMN "support_tickets"."priority" IS 'LOW: low\nNORMAL: normal\nHIGH: high\nURGENT: urgent';
COMMENT ON COLUMN "support_tickets"."status" IS 'OPEN: open\nPENDING_CUSTOMER: pending_customer\nPENDING_STAFF: pending_staff\nRESOLVED: resolved\nCLOSED: closed';
CREATE TABLE IF NOT EXISTS "tags" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "name" VARCHAR(32) NOT NULL UNIQUE,
    "color" VARCHAR(16) NOT NULL
);
CREATE TABLE IF NOT EXISTS "ticket_replies" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "code" VARCHAR(16) NOT NULL UNIQUE,
    "body" TEXT NOT NULL,
    "is_internal" BOOL NOT NULL,
    "author_id" BIGINT REFERENCES "users" ("id") ON DELETE SET NULL,
    "ticket_id" BIGINT NOT NULL REFERENCES "support_tickets" ("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "idx_ticket_repl_ticket__ee53b9" ON "ticket_replies" ("ticket_id", "created_at");
CREATE TABLE IF NOT EXISTS "ticket_attachments" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "code" VARCHAR(16) NOT NULL UNIQUE,
    "filename" VARCHAR(255) NOT NULL,
    "content_type" VARCHAR(127) NOT NULL,
    "size_bytes" BIGINT NOT NULL,
    "storage_path" VARCHAR(512) NOT NULL,
    "sha256" VARCHAR(64) NOT NULL,
    "reply_id" BIGINT NOT NULL REFERENCES "ticket_replies" ("id") ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS "addon_apps" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "code" VARCHAR(16) NOT NULL UNIQUE,
    "slug" VARCHAR(64) NOT NULL UNIQUE,
    "name_en" VARCHAR(120) NOT NULL,
    "name_ar" VARCHAR(120) NOT NULL,
    "description_en" TEXT NOT NULL,
    "description_ar" TEXT NOT NULL,
    "tryton_module" VARCHAR(64) NOT NULL,
    "price_minor" INT NOT NULL,
    "currency" VARCHAR(3) NOT NULL,
    "billing" VARCHAR(16) NOT NULL,
    "is_active" BOOL NOT NULL,
    "sort_order" INT NOT NULL
);
COMMENT ON COLUMN "addon_apps"."billing" IS 'ONE_TIME: one_time\nRECURRING: recurring';
CREATE TABLE IF NOT EXISTS "user_installed_addons" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "code" VARCHAR(16) NOT NULL UNIQUE,
    "status" VARCHAR(16) NOT NULL,
    "installed_at" TIMESTAMPTZ,
    "uninstalled_at" TIMESTAMPTZ,
    "addon_id" BIGINT NOT NULL REFERENCES "addon_apps" ("id") ON DELETE RESTRICT,
    "launch_id" BIGINT NOT NULL REFERENCES "launches" ("id") ON DELETE CASCADE,
    "operation_id" BIGINT REFERENCES "saas_operations" ("id") ON DELETE SET NULL,
    CONSTRAINT "uid_user_instal_launch__d9950c" UNIQUE ("launch_id", "addon_id")
);
COMMENT ON COLUMN "user_installed_addons"."status" IS 'INSTALLING: installing\nINSTALLED: installed\nUNINSTALLING: uninstalling\nFAILED: failed\nUNINSTALLED: uninstalled';
COMMENT ON TABLE "user_installed_addons" IS 'An add-on on one system; the row is reused on reinstall, hence unique per pair.';
CREATE TABLE IF NOT EXISTS "installation_logs" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "line" TEXT NOT NULL,
    "installed_addon_id" BIGINT NOT NULL REFERENCES "user_installed_addons" ("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "idx_installatio_install_9e7f12" ON "installation_logs" ("installed_addon_id", "created_at");
CREATE TABLE IF NOT EXISTS "referral_balances" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "currency" VARCHAR(3) NOT NULL,
    "pending_minor" BIGINT NOT NULL,
    "available_minor" BIGINT NOT NULL,
    "user_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE RESTRICT,
    CONSTRAINT "uid_referral_ba_user_id_08ddb0" UNIQUE ("user_id", "currency")
);
COMMENT ON TABLE "referral_balances" IS 'Cached balances of the ledger, locked while an entry is appended (like a Wallet).';
CREATE TABLE IF NOT EXISTS "referral_balance_entries" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "currency" VARCHAR(3) NOT NULL,
    "kind" VARCHAR(16) NOT NULL,
    "amount_minor" BIGINT NOT NULL,
    "balance_after_minor" BIGINT NOT NULL,
    "pending_after_minor" BIGINT NOT NULL,
    "reference" VARCHAR(64) NOT NULL,
    "idempotency_key" VARCHAR(128) NOT NULL UNIQUE,
    "user_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE RESTRICT
);
CREATE INDEX IF NOT EXISTS "idx_referral_ba_user_id_efadd2" ON "referral_balance_entries" ("user_id", "currency", "created_at");
COMMENT ON COLUMN "referral_balance_entries"."kind" IS 'ACCRUE: accrue\nMATURE: mature\nWITHDRAW: withdraw\nREVERSE: reverse';
COMMENT ON TABLE "referral_balance_entries" IS 'Append-only. ``amount_minor`` is the signed change to the bucket the kind moves.';
CREATE TABLE IF NOT EXISTS "referral_commissions" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "code" VARCHAR(16) NOT NULL UNIQUE,
    "amount_minor" INT NOT NULL,
    "currency" VARCHAR(3) NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "available_at" TIMESTAMPTZ,
    "idempotency_key" VARCHAR(128) NOT NULL UNIQUE,
    "payment_id" BIGINT REFERENCES "payments" ("id") ON DELETE RESTRICT,
    "referred_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE RESTRICT,
    "referrer_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE RESTRICT
);
CREATE INDEX IF NOT EXISTS "idx_referral_co_status_983816" ON "referral_commissions" ("status", "available_at");
CREATE INDEX IF NOT EXISTS "idx_referral_co_referre_ca7fd9" ON "referral_commissions" ("referrer_id", "status");
COMMENT ON COLUMN "referral_commissions"."status" IS 'PENDING: pending\nAVAILABLE: available\nWITHDRAWN: withdrawn\nREVERSED: reversed';
CREATE TABLE IF NOT EXISTS "referral_links" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "code" VARCHAR(16) NOT NULL UNIQUE,
    "clicks" INT NOT NULL,
    "signups" INT NOT NULL,
    "user_id" BIGINT NOT NULL UNIQUE REFERENCES "users" ("id") ON DELETE CASCADE
);
COMMENT ON TABLE "referral_links" IS 'A customer''s referral link; its ``code`` is what the shared URL carries.';
CREATE TABLE IF NOT EXISTS "referral_settings" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "name" VARCHAR(16) NOT NULL UNIQUE,
    "rate_bp" INT NOT NULL,
    "holding_days" INT NOT NULL,
    "cookie_days" INT NOT NULL,
    "min_withdrawal_minor" INT NOT NULL,
    "is_active" BOOL NOT NULL
);
COMMENT ON TABLE "referral_settings" IS 'One row, found by its unique ``name``, so a racing get_or_create cannot make two.';
CREATE TABLE IF NOT EXISTS "announcements" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "code" VARCHAR(16) NOT NULL UNIQUE,
    "title_en" VARCHAR(200) NOT NULL,
    "title_ar" VARCHAR(200) NOT NULL,
    "body_en" TEXT NOT NULL,
    "body_ar" TEXT NOT NULL,
    "level" VARCHAR(16) NOT NULL,
    "starts_at" TIMESTAMPTZ,
    "ends_at" TIMESTAMPTZ,
    "is_active" BOOL NOT NULL
);
CREATE TABLE IF NOT EXISTS "audit_log" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "action" VARCHAR(64) NOT NULL,
    "target_type" VARCHAR(48) NOT NULL,
    "target_id" VARCHAR(64) NOT NULL,
    "before" JSONB,
    "after" JSONB,
    "reason" TEXT NOT NULL,
    "ip" VARCHAR(45) NOT NULL,
    "actor_id" BIGINT REFERENCES "users" ("id") ON DELETE SET NULL,
    "impersonator_id" BIGINT REFERENCES "users" ("id") ON DELETE SET NULL
);
CREATE INDEX IF NOT EXISTS "idx_audit_log_action_34dc8d" ON "audit_log" ("action", "created_at");
CREATE INDEX IF NOT EXISTS "idx_audit_log_target__2d010d" ON "audit_log" ("target_type", "target_id");
CREATE TABLE IF NOT EXISTS "clock_runs" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "task" VARCHAR(64) NOT NULL,
    "tick" TIMESTAMPTZ NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "finished_at" TIMESTAMPTZ,
    "duration_ms" INT,
    "detail" TEXT NOT NULL,
    CONSTRAINT "uid_clock_runs_task_2b4967" UNIQUE ("task", "tick")
);
COMMENT ON TABLE "clock_runs" IS 'One tick of one scheduled task. Unique per tick, so two clocks never send it twice.';
CREATE TABLE IF NOT EXISTS "email_outbox" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "to" VARCHAR(254) NOT NULL,
    "template" VARCHAR(64) NOT NULL,
    "locale" VARCHAR(8) NOT NULL,
    "subject" VARCHAR(255) NOT NULL,
    "body_text" TEXT NOT NULL,
    "body_html" TEXT NOT NULL,
    "status" VARCHAR(8) NOT NULL,
    "attempts" INT NOT NULL,
    "last_error" TEXT NOT NULL,
    "next_attempt_at" TIMESTAMPTZ,
    "sent_at" TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS "idx_email_outbo_status_dd88ee" ON "email_outbox" ("status", "next_attempt_at");
COMMENT ON COLUMN "email_outbox"."status" IS 'QUEUED: queued\nSENT: sent\nFAILED: failed';
COMMENT ON TABLE "email_outbox" IS 'The outbox: every email is a row first, sent by a job, retried with backoff.';
CREATE TABLE IF NOT EXISTS "geoip_rules" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "country" VARCHAR(2) NOT NULL,
    "kind" VARCHAR(8) NOT NULL,
    "applies_to" VARCHAR(16) NOT NULL,
    "note" VARCHAR(255) NOT NULL,
    CONSTRAINT "uid_geoip_rules_country_d03c08" UNIQUE ("country", "applies_to")
);
COMMENT ON COLUMN "geoip_rules"."kind" IS 'ALLOW: allow\nDENY: deny';
CREATE TABLE IF NOT EXISTS "heartbeats" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "process" VARCHAR(128) NOT NULL UNIQUE,
    "kind" VARCHAR(16) NOT NULL,
    "seen_at" TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE "heartbeats" IS 'Last sign of life of a worker or clock process, shown to staff.';
CREATE TABLE IF NOT EXISTS "platform_settings" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "key" VARCHAR(64) NOT NULL UNIQUE,
    "value" JSONB
);
COMMENT ON TABLE "platform_settings" IS 'Settings staff change at run time (maintenance mode, pool sizes…); env holds the rest.';
CREATE TABLE IF NOT EXISTS "aerich" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "version" VARCHAR(255) NOT NULL,
    "app" VARCHAR(100) NOT NULL,
    "content" JSONB NOT NULL
);
CREATE TABLE IF NOT EXISTS "promo_code_packages" (
    "promo_id" BIGINT NOT NULL REFERENCES "promo_codes" ("id") ON DELETE CASCADE,
    "package_id" BIGINT NOT NULL REFERENCES "packages" ("id") ON DELETE CASCADE
);
CREATE UNIQUE INDEX IF NOT EXISTS "uidx_promo_code__promo_i_2701cc" ON "promo_code_packages" ("promo_id", "package_id");
CREATE TABLE IF NOT EXISTS "support_ticket_tags" (
    "ticket_id" BIGINT NOT NULL REFERENCES "support_tickets" ("id") ON DELETE CASCADE,
    "tag_id" BIGINT NOT NULL REFERENCES "tags" ("id") ON DELETE CASCADE
);
CREATE UNIQUE INDEX IF NOT EXISTS "uidx_support_tic_ticket__302fa0" ON "support_ticket_tags" ("ticket_id", "tag_id");
CREATE TABLE IF NOT EXISTS "addon_app_packages" (
    "addon_id" BIGINT NOT NULL REFERENCES "addon_apps" ("id") ON DELETE CASCADE,
    "package_id" BIGINT NOT NULL REFERENCES "packages" ("id") ON DELETE CASCADE
);
CREATE UNIQUE INDEX IF NOT EXISTS "uidx_addon_app_p_addon_i_f4f2fd" ON "addon_app_packages" ("addon_id", "package_id");"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        """


MODELS_STATE = (
    "eJztff1zm0i29r/SpV/uTJUmmzhxJq/nrbdKtpWMdhTLK8mZ2RtvEQQtizUChg87unfnf3"
    "+7QUh8NLgbAQJ0arcmCfRB0nOa7nOePh//21ubKtadVwNLm5uP2OhdoP/tGfIak7+k7vVR"
    "T7as/R16wZUXuj9YtjTJpcP8y/LCcW1Zccmdpaw7mFxSsaPYmuVqJv0Uw9N1etFUyEDNeN"
    "hf8gztTw+TZz1gd4VtcuPrv8hlzVDxd+yE/7QepaWGdTX2hTWVfrZ/XXI3ln/tUnsYGe5H"
    "fyz9wIWkmLq3NvbjrY27Mo2dgGa49OoDNrAtu5h+gmt79BfQL7j9ueGPCr7sfkjwLSMyKl"
    "7Knu5GfvFC2l/rSdLNZC7NhnNJ6glgpJgGxZd8VccH4IF+hZ/+z9nZ27c/n71++/7D+buf"
    "fz7/8PoDGet/3/Stn/8KvswereBRPmajT6ObOf1CJlFioF964S9fRnblQMpXxh59xcYUL0"
    "l201q4JndcbY3ZeohLJvShbkVfhX9JaifURZ56wgt7/eynZR0KIj9QnRj6ZjsxcrCfjz4P"
    "Z/PB51v6cWvH+VP38RvMh/TOmX91k7j6w/sf48raPQT9Ppr/iug/0X9PboY+vKbjPtj+J+"
    "7Hzf+7R7+T7LmmZJjPkqxG5nB4NUSNjNxr3bPUglqPS4LWm6L1EKOI2rffPvKukw0gre+r"
    "lWxnvOHb8QktE7SK6PXlxbb3f5eeoVCFobVsyA9Y37zabmcL2cGvDPws0e/0/3pV6X4tf5"
    "d0bDy4K/LPN+9zdP9lML36dTD94U1SnzfbO2f+rb9iCvD/FFBAOL4cBRz7xYqB++E1B7gf"
    "XmeCS2/FwfXtGGklOysRiONSdc302mB+c/aBZxKffciexfReHGnLxkvtuwjKe4kOTuU3Z1"
    "wQ5yCcBNhRTPqMFMB/n01u2ADvJZJbsqa46D9I15yUgVwW0JFle+FpuqsZziv6eZUt0zlw"
    "U4Riu3EI8w+fB38kNXA1nlwmt1n6gMuEOvB3SyO3C1hLcckSrKXtStKUF6G9xlHaJtZlx5"
    "U8p5BVnJQFTTdZ0zZ+Irt+ET3HJUHLTdYyeR1tSZRcigi9zDC1wVKpjWSi/N7ykckxUVDT"
    "avho2lh7MH7DG18VI/K9ZUNh+TtbH/Bu+5iWqeCvcI6FV/evvS0/7wjR6NQjv538YuwGVv"
    "VgdjW4HvZ8hBey8vgs26oUg5reMc/MxJXd2PSt9dk6ecV3uNXtr6DfeYv6NX7SFLIcGg/Y"
    "tuzg66fY5vSgfh7trPrDyTfYjefjn3sDRD01ZC6R4z8M2Zjo2HERRdZ1+mhp2sg08E9EJb"
    "L+k4Xtn4LPQrKhIgM/h/80TJf84bzqJVRYzScw2PGvkbdij9q/EqT51/Rd4NCBQ2/P4tdS"
    "NhU49FPUOg+HvozvcbwEWEKsgyzY+3ccLNj7d5ksGL0Vp100SwThYHR9wPbqOYR4d84B67"
    "vzTFjprb/SPIeDsVGU54jIwtrVprXrKB5xwxiOE3SIG6aBQ/1h8vno5m48PpZDPDYfNGP4"
    "hNmecORuP88F1uk4CdOB1cdefe3htazp9HMiHgcZ9DWKcvQWeJrgacK+DZ4maP1o1tpuye"
    "b1gHYCHfQuz8553EsyKtMR8u8lwiw8RcEOI87i0jR1LBsZoRZ7qQTQCyLWQqTzdqnJZBx7"
    "XS5HiT3r5u7z5XD6wxsfdzJIc2NbWfTQVXZMQ2Q+7yU659W/5QkZepsdMvQ2FTIEZEmvCr"
    "LEN4+JHyDG9sWlOgfz2TkPzmRUzmKcQrptxGpNWJdPqwILBCzQ8TXQdhZoMvDc1UglS7zm"
    "bnoMIig+oJ/HBZnEDViRH+mP1XAFfNDXnmWbT+QT/JnieIt/YyUdbQCkD5A+7XJdWur+A+"
    "lzilrnIX2iyzR/cs1epoPUT/m+crj/CWAcEekgxJU4dDXzlw2zb2ugLyHA/TQ9uaapoOUB"
    "7hPXuqKJ7iwfbnurn+u9uZaflV7HMX707fVsYnv43w0O7huxQPTBhzshax58uFPUOpcPt1"
    "+Z06bv0PDWKXMg7s7txZvsavS+DKejj/+Uhp8Ho/EFesK2ttxIvg1/b4wnZJG8QH6QW6+A"
    "vVx+6RW6QwsXB4kJNVkZBd2SSqqDNKhaQtPQb+8il97bZNfFa8tlRM9kmpRRkfqcz9fVGp"
    "Znb979/O7D2/fvdvbk7kqeGZkOkClYegKqTrTkhQG6BuiaJqig5XTNrew4z6atTrGD3czy"
    "t4xR/TwSx9qOl2wqADVxgawBsqZDbjuQNaeodR6yBqqGAi9w9Perve8T080BN7bb+gU3Ft"
    "zYo6ug5W7sFCvmE7Y3WaEHsfv9PNfV3o6sKQgBfFbwWdu1UrTUewGf9RS1zuOzwll2XT4r"
    "ODOZhlcLXyRwZsCZaaYK2u7MmDrbiaHX+7nOCxkBPgv4LIIbLPgszdx0wWc5Ra3z+CzHbX"
    "3YoLO18tNZo19LAOGEWOcq51SS1Gphe605DvliQu35EmLQoy+2apXRo09zJOIbLJcMey6v"
    "mF9UrMZqfrsrrSrnl3Lfsr2NhIu9M/MTqtnKfvxtinU5YyWKeHahP9GybT3Lu/urSp9shm"
    "3ah+iSQLXUFE22mVWKGKP6ef6aE4yXFjsB3npFvfkKI8VcW7KxQbKBhtNbpDm0ndIvSEaK"
    "57jmGttoLW+Q7RnI2TguXvv3kYOfiLr1dLOmch4J/iP4j+BJNMKTAP/xFLXOe+YletxVp/"
    "8YMbCDLVnfvNrusQvZwa8M/OwHaFRmcFedQHtcB/7YL1YC3Ndc6L7Ogfd1OkHZM9zA/OKf"
    "4zuRDpZM4nHes133JLwueTbLWsuJ8d5JdA/c8qsKk5XcZtbSn+PvWenAe5EOkE95e+3wj3"
    "k+4bHbaseTm0/h8CQLEgfcfDYKnF1HpeDwuqzDax/VtCLg9Dp+eh2dfKLH1xHmAq8X2D6Q"
    "TZpjef3Zf1CH8P4rUeRy9/ADwZpFHtVVuDTjyaT9ug9DahQ8pX3mARdGukxcnNWhGI39p3"
    "QUIldTHjGrKIrY+2ZZpu3O/Wd1CKgq6e7Igs6guePLfTa97ZJxUmSDeZnVHhgmJY0RPeb4"
    "LwfJfm8o5JpIRnuOfEPuhOzzD5Sj+ck09A0ybbQkv+LHNLFd2lOZvQAWcbbfD72DXgCNMT"
    "T7QHmfEPkJlPcpap2L8pYN6dmmJ/DpBTcvpiEmB0ENAj0KIxujMLOSlgV+RXDbg7yM5lFb"
    "CVvxQIKLHW7SMr3w0l3pFYFNeiUnPhCJLU2DmZuudY3pBO+xfND93X6uD0obCqj+QMiMAT"
    "dP0OAHN6+ZBj+4eaeodR43z8HknXUlbCj2xqIKSek++widJduJgJu6T9PJxy81e11syU3I"
    "Qsp/c9629CKry44r+QUaHBdbYkZOWrYzZexP0sE/EUtTIG8n7R695JtODDw3yX8q9kyPqq"
    "pq/NKDfE0fR4aXGeKb7V/SLwmOZYdf9z44lifkYoBjeYpah5SZFqTM1NwBu2H7XfUNsCEl"
    "KVL9kCsl6SwnJekslZK0a4ojWmsyJdi9DJpKqov477/kt9LUCm3XzAcAH9WcTTptmxGH2f"
    "UYAcN8zWL30jWmUBGfUXsKvwuvcnuDq/noy/ACBdK0R+zVb8Nr2iRWecTqvXE9HA/n9ELg"
    "NweT++h7OPl2si60y+wlurfq8ZTYzS6wmyqvK9vyQlMkVXvQmDHzeVFuKVmIdBOIdFM828"
    "aGIpZuHJHp3tR+yzG132ZXZUtO7SXZiMkO7HfAFumRm5LrzAlDaY1ygw1D8gyX5V3lG0hJ"
    "WbCNmmwb+edt/qtQwBZOCYOum6xrGy8x2V9UaSEee52WLbRqNky7jYj/jUCb1klVcakNUw"
    "Tv8V96GsZOAcnXQDd34zFfmrtsaZE2xMWTSQeWtut/3DKKiyvjNhIpWxykIC73I/ky2Lbs"
    "Vq4WfBnc/naIn7BxaI7ymD5pSB/UUag0lfw2zdUOnVqTgeeuRsHDupTtEC9G41r79nMHYO"
    "VaYb+7LqKU7C1fHCh2e/tuYpbsblgctWRPxS7ilSrMWxyuTidrxUDbVnxYaRaUFXrxfaQ2"
    "rqyXUM27o4YDFDznLFCFs/ooiKI0C57UVaAs21ybEvEr8bqMal639HHT3dO6ippjYbJn6R"
    "Jx5xTysEP3wuBpt8HDOosZ1IwrCpckKyWj9qvmuCaXzdXGXbLuenutnGCWvFkfTtXcBk/p"
    "KkjEIvUM1ZE0x/FY2ZNiHiJ9VkdfuWdZ1w+uTfi7/5CuzqUAonLW8gCpuS0bTvC8jk4rqA"
    "r6Mj1q0V9Ugnkgy7NJ+KyOYrWSDZVGwJBRLnlvDj79sq6CB3UULpm4vg8GwQsqzza5RG8r"
    "d8MAKcnGln4wmRwgNSWP6qpHEzKj0kLWaRTEwYcVweMug6d1dY7tUCNr/gMrv/wAzIZhd5"
    "zuAudvlOvslrRF0LvaPbDb2JFJB9iJGxyeqtGKQ+7hB4wD+qixyUOntnFD0NbEVHdMw0+g"
    "BsDYgKULjuTUyIiYJqbLqt2zFQtrknCYJbGijB3BlL2/asZjGYiFK914+7yOYFag/Ip/OJ"
    "tRgiU8uM0vw7I/Ji63FsvXXa0e+gHQ26E5kdZUBmqznEqVDqjNcopaDzHKq81C12XxNJe9"
    "EBS4b3npwZOBPie3CIrd82QVvVhUMLmulABpx+IOk5BGFtIm9Q+IxjJm+BWRUMcXXItoeC"
    "VHGzsUHCP9pBloYZvP5AkXSNcconpELhHHgjaho/3GkUW+fB/Z+MlU6Aci08BosaF/MPrY"
    "lfZYqDjZ4DUevJpTsm/BqzlFrfN4NVBx8iXdV1ytSmOQ4tnwa6wS9gXB53mpevXA+o6nMt"
    "+77MJ871J1+XyDikwXg7GaZcMbl+oczJVUQPSLtjgYFy74EpGFvaNNewe1/B8LWQxxSajy"
    "0xwlM+xCIN+AfGuACkoj347DFN2Sp8gPzNPn8FY/jyGygkHVtwH52tMcaV8vlvzD8ha6pt"
    "B/OKbtSqatEsF/AXkD5E27VpCWmmJA3pyi1oG8aQF54+jeg4gCwvGdaxbynqdXyPvsViHv"
    "mZ1CpKBIFi+6ERHoF8LXL8SHTGZ4FS+gHIgAynwoR74Zc0pndwtOS3aAlMzbgavoFBwFkT"
    "XX+eCve8p3Bn7NUHRPpSXcwzaWcfizHcOUYH1c0puqVpuSK+vTgjPEsJIeFgLAxoUA1CSo"
    "lPHxLMlRVlj1xFrJMERrXDJUWQuSddtoTGNb6Ch0O7xGdF174waBXG2EN/j2EvG/PGahw7"
    "/PJjdspNOSSZpAU1z0Hz9KrDLw967kwtN0VzOcV/TzKnMdc+CnSOXvkskNsR93/ekDUrtk"
    "lHRNkKd5TZVicjU2VAp9zdb2U4oR22KA7+UAcH7AI4cHAqZKTAg6KzGPCLNPtCKF6bCtme"
    "rBden8Q6hb/1kt9PW58m+hDCmUIa0YrpoLsLUGowMP4JMFmDMaEHyWjc3cpP/ljJjw6y8X"
    "bUFwVJY+J2jC/21SMhQh+kttOgOxuhsTDUFYmravkke82eMdnOTv1BXeC8S2d92VbXoPq7"
    "iSpOijmVEb5LqUDAaIFzlRVebSI6zsAX3QwLI6r+voDxVQtQ+0qKoDIdmyCmqaJ7Rma5Vk"
    "B9jszZYXw2ykiLn0cirWxMCIWgsYmUsko+0zLshfF5quE52h4HE0gUpGYVPWdO7VAc9hlp"
    "Sw9oFF1u6373rCQo0JCOiB0A4I6AGtNyagZ79Kp1nwoeGtUyZMTPN76SYfzPc+T27mv47/"
    "eYHWpuGu9M298Y+7wXQ+nNJrf3qy7WKbXp0NP48GNzd3g/EFcvBakw3Dk/V745/DgT90g2"
    "V7e9pxdHLd/ykiZ5t7gS7Fx5d2AneUZveNA7XKbve+nSmtNcMUoWMTUjB3WTw3dj1LWmJx"
    "dBmSwHgn4SWfJuuSKm9Eltu4EIDKOAyD08c6D8PiTAm/bx2X69L6e9zcughVcmB6XSSbq2"
    "WK4M2wi89B0SQ7ODTiR/7QA5F82nTH9bMo0+hBQA5dGj9nqTQxEfhJ4Cfb9Vq3lKkCfvIU"
    "tc7DTzY94bA+MuaMh405y6ZjznJyhEQQToh1ID2lhpJFj5pRmGQPZZvMMPZuh9Or4c38gp"
    "4XK9hw742Poz+G1+TpGv2UAnr4wKGFD5k6+JDUwJOse4yVJNNk243vksfbbra8YSWXqiXL"
    "s4Jns5MmIiKQLREzb8rIlqDK9hxWcF/2iVtEpNAq0rQJX/IiQiasn2gpEaBEToQSYpBNyO"
    "he4Eh+xWwBWONCcGCRznuVbdcp4H7GBKHyYHOczTTHgL9bGnlcASXHJUHLTdbyUrMdVzIk"
    "ZaMw81Izl8i0IGzrcLJ7lJPdQhl5NlbxuozDL/+sZrp7Wgsd4obnmDVsiaghfSqa/nFg7l"
    "Tx4/BWZdNEfmcqmSaRjJZInYqdpqcyaiKJVSWlTgVb8MtHw5EVJeuAOL7ovHRMnFjwKq5i"
    "G0UurAkMRWvhDLllW2NLTxPhDPkUtc5zhqxqjs9rCUdHpwWBFoOTIAamVZ4EadSEMV2Kl2"
    "+iCeDMEO1cXMSbM56DYjIqp3xq6rA4askJREpHpLp0alxz7+Wo1y2sA4Zwhzg66ILdZejz"
    "kgXo0pLWg3iqwCF1ZRpKQvWTyQKRZThGT0yJITkdXc17qUleArKn3uMoawUvAdpucqdJhB"
    "k7Vwxp8j3Qzd14fKx2UomycgyCLl14LpufY5W84+lAHhSrITNmuUQy8RGxip41d+V3Alc8"
    "xzXX2P6FXDIcZD5h2+8eTuOQtoLPK03H6EnWNZXViLzkp/OQhtHtcs/LAm0ItGHLdpKWEk"
    "hAG56i1nlow6OWxqnHiOlkZRxgJCtmJDufzBJNXbk3kqktRWY5JLM0+AjDN9ilpW2uRbf3"
    "uCREfTZnN08bcYGuPMPV9GJq3omCnpusZ8N0GUtjdse1cHwHElnz1FhFnzUoKQQHNKcEfc"
    "4BDZwilH6KAAWy6iqQVeWxwVz+PpX9b5I6Lwhv9fMOClziRlGFQbUnoNwFzXag3JtpxgPl"
    "fopa56Hc/WhbW4y53Yt0LraRp+RTdsWnVMEnioK0YLS8zdzJIhJdchVKYw79PwUmazi+ye"
    "x3wbn6/h3HZH3/LnO20ltCaa2VxrpEI45YkS6JiKScOJdkCmnFOWjEFXI9/4OCIy1321dK"
    "wobaI6OjI4IS5eSGX7bAvxlx0LbjIBIFzOK2LUztNJDALD5FrfOZxc0ughop/hZsqfrm1X"
    "anXMgOfmXgZz9zvLJicJ0MKWncC1ZlTMneKikSVbKXbjLSvfl0RAOofLvr3hhczUdfhhco"
    "KHpzb9wOZnPp+o5csWTHlVSPXJvdzW6HN9c0GsXxHIvYajQi5WpwczUcj+lVheKh6/Tq8I"
    "/b0ZReC2pRFSq6Wv6rA12fqnI+/R2DLDH4mWGH5xVaigtCpSX+Hjpxj0nQAksJQxxJc2yu"
    "tKmd8J/9Ko7CrlbGM0DzLdI8ZkW7CukdM2NeQevN0rpvSZGlOVfvuRtr1iNq3GJ3V1q7x+"
    "4s2iLUVkIW3rgmv3E7j6ZIUeWELGi6yZoOHVrJ0bbuu4iu09Kg7UZrOygV6RdJlnS8FKlC"
    "z5TtUAWX0rz/Bfn1S03RZHsjHAGclu0SwVJzDDYEwR9bAYGtLYx/VAzgLw7/cWqlNXN5h/"
    "yPLkMP+R8V5X+wK3NFzJQSoJ1h+0lT8GX8oR0FOm3hceANCTelJNxkgJtRTaQotre753UV"
    "4ah9xgPwEUokNswI4YY2q0IiT425pOV3xKYyLYE/Nk1XmuOarA2taDeZX/cP7MhKEE9awG"
    "v69ewS++9Mt4/sKmSa8WQSS+dAxEbBUzr6GuqyZyirQzEa+0/pEER1JVWEi9YLuRWRtY0v"
    "xUKKLK9VZ1qk67VGIushbQLSJlq2t7Q0gB7SJk5R6zxpE/gJszpgZ4fs7wSaHEVeNF6fJ5"
    "n4bXY28dtUOjEteycdFrefeESDK2+eZOw+ebUO02/sAaDdZmlXxa7MqoX499nkhr0+7iWS"
    "G6GmuOg/fin8qhbKSI7ZwtN0VzOcV/RjK8spy4GbIhTbA1PF9JJ18xKbG31AspgemWym+G"
    "FeVArOUYueozai5VTj7IcmnKset5VM01TCS/C/1EuGWW/PX0rqO8Nu2MLDC210wW1Wfx4W"
    "w/0CvxZlwjkJthgfz9OxJxRADnGufkGBvmktdRSc8CHHRDIZZXsGMpd+Sx1FN5VHZOCnQE"
    "p1kOYi91lTMKtpT/kfwKD/vqZWol0l+0h9lQRJCBwgcIDt2mBaygYBB3iKWufhALN7lbB1"
    "3Yb+JI1hAIsnyJaeGNs06Nv7CqVXTvCOwTtug0pK946P48iFgTcM3y0Sk5PtrkXDf1520E"
    "brteeLIpPMDaQ5jodV9IPhrRe+c+T++AtSTNvGPvfqINkm7pONVeIw0c4pDrJMgjRRC6K/"
    "HhF3ieGkVfUhgg1Wo/EZ8VKYNLsUojbAY2vfotdS2x08tlPUOo/HBsUuj3wuHOzKIirYS5"
    "Ryxt+gCvzl+8ztK3TZU205qMMgElFxPR18nF8gX/bemNwOby6QaWGDRlOMrmkkhabeG18m"
    "9O/EXi0UE1FyV9V29bUN7XxRxYxuCOhXwwu0lb83rqbD69GcCpGrgdkthV0Rj78cQe3dym"
    "vvegvXdGVduEprWrA+aud1tQ5PaXVaaP8yUVxjMgBpCtJCkxVmKsdMFW8RlJACWFOFmrwN"
    "y5rOjrLcCRwUZNnM8JraoikdGnorBPteAnAvjrtuKrIu5L/vJWq0nbFRj3desocSEOcFCL"
    "GYIFRPbA79lWY9t0cRggreS4F2m6xdSnsUUG9EDPTbZP1SKqvQCh0TBB03WceWupQs2V2J"
    "WDlRmQYnwhU0c87OzzkMHTIqu1ktvde4CrdNA/0oyVFbRnhZIDstJQpaaHWKGmjiAoquNi"
    "f8EYqu8oQ7tq7oasNWGV6cC9VcPW4Eb0uRfimAlw313hgpAejOVcdLYpwy3TIQzo6RTiHv"
    "h/Iytk0oShiS55pREkBj8qQObWkJCm2zxlTgIKBug6d0dCZF3jjJxkvPUA+Ea+o/pKNoAU"
    "J11wKNLlPZeS7hKvZirou0WzkrLfoJ2SGQHdKuDbWleQKQHXKKWufJDokiklJ79vFLQqyD"
    "McGVHMH86cmGq7kMJihza4uK1Md0vql2gystGJD8KFeybGqyiMavskS7RCWXhrG8Nj3DFc"
    "Y3KQbYsk6hTNuVTFtl8e7Zp08xIYgQToIaOjHCXkRMrkvz9bjHSpHEqtpY4qYpgpcmjs/B"
    "BpbRmGGCp5FbTmM3pM9DNTjb0Zz1NT7J1k9LG2MUJMkSzC/8EoS2+Yw0B9FChFhFzytNx0"
    "jeDqI3XPkRG+lKGoc/jlnc0LLxUvtOb2+wbEMhw+asU30gPk7IBQbi4xS1zkN87Fdo7pDT"
    "nUQH6Y7y88z9jY/fqQmHd8nsLs2j0WmbjKw6IpmQJqTAUWT6KcexpsPjcoYVHTlJz7aeo4"
    "f2FTfm4yr4Bq36wLoFOwesW9B6I6xbKPp2ZOv3gcD1LAsVWYqIgIPBD3FwEsIk+1/EOiZb"
    "URrh8YrtvX/HAfn7d5mQ01tsyBXZcj2bfcLyMuhx6a6VOCwfdTiArc6zhmp4lVfDa1+Bzq"
    "2/I2h79K6mQ2L6Xfs1H6n8vTG4vZ1OvtBLxJO3zaegpent/G4adDT110Fy7Xp4M6JXVGxo"
    "9N/T4ce7oBdqEEpNr30cjPw+qEtZ03FDWp6Gv6CITxkXhQoNzfEm0k5kuHOTR1rkVzJci+"
    "w6YCxZaHcb03wZhcKOGPTSsBcPsthPDPpnWdexKwx+TAwmfknBXlBDoPwaAsFMLQHV33cP"
    "atfM5oU19kpzAHuMyMSWQpsTmCiWvA7JoRzps9i2ZZ0MW681x6EtvA6Gy3/i1e6BHYKuhm"
    "P64VP+WX1wv89xYC/hJ+5j+958hdEzXqxM8xFpxsL8foEcl6xMKlrgJfmTdtnWHMot6BpW"
    "+2Gr7m1/btqIO3LbbxWXDoCt6DOYUbGREw4fBrqYJENjaeysqWDH2VEDEFrQCJuvD6EFJ3"
    "TIDKEFp6h1ntACONmunFbfbY4CGEdlugjyGU/pfzIqG+azVPn/ADMfJmGkQ6kOYl3+CTYx"
    "fnVTZszn7GODiEj9pwXHORaq5FzgCdsa+TCWeWyaOpYNNvxRsQT+CyJXFfC7K/UifzmZjG"
    "PIX44SNvDN3efLIVlgfDWQQZqbQUYnvRcRsygpC4eizbGD0uYvtm1WPM4cf8/wOXcCNYYy"
    "HOF4cz78Y56/jO30OJ7cfAqHJ9e2xqRqbLlGBvuzZyGzeZ8I3Qm11IAZAWak7T4yMCOnqH"
    "VIumgBbwKB0hAo3d5AafKdXM3YneQWiZZOPKLJmPd+H4zHw/kFCmI27o1PZAX/ffDPCxRh"
    "i4/cHrSFoesWNlSKl6Ayboc316ObTxdoK39vzO6uroZDPwbd8RQF48YGoe8DjKmnVTAnKS"
    "YMKUlxzNOErqbitWW6dHGXHrHQpsAQrcsAavdpBTGcHdbWkE047SWAceJinIDeOxLYirm2"
    "aDhhIaIkIQuseXN85DQ1IitugcaXUSkI1S+aKBHtYlOw9WhEFvRQVA+Qq3Vc/MNYXFH843"
    "KAf0kpQ9a+4NmBWRida0LWT2RhxGcgZLiUiS1XhkvGdgr4cnfAjFgQHBj7hl8J6HLmE7YU"
    "2qh5HAOVfAF0czceH6to/DbhkBE7sU9FzI6dCKjhCmInvu7SVHdHFFCivTGmQh9BPMXpnK"
    "xDPMUpah3iKVoQTwFn/lWf+S9kndqtWSEreXZFSrQz9d2hcs+JEkFQO6ac2jE8ZTiiDQQS"
    "016gsETnCLfYykDuGI7s7/AH4hR4u/P98zo0PystwJEGLpNLSKD7Eq0gJbX7cj2OAdKx+o"
    "BtRKa8vfGLemJanLOPDPxELm+dDWTaKHgt1V+QjNaaQ7vF0TIZS+07Layx8WtnEAlH1tMV"
    "OSr7FJ5mH7EKSlB5oxE7Zh/4kBPyjIEPOUWt8/Ahj5qREdv6cjByKNtkl5xYsNRN/jSkZa"
    "8V8rMe8L0RXgn/HZTGDgtj3xuD67/fzeafhzdzslOq//Yclxqk/rjhdDoYS1Qt19PB74Ox"
    "LxRUVnvW3JVKrGpZpyO/DKez4HawWya3ZB5i4IwnxvYsO8b2TLDsf260VIcTWmomB0KWRV"
    "66xOs6gKZJPABUUlgl/ksc9pfmpSVjQh0I0IUA/17N5n71Af7RbyaAd0Ksc5P77PycZ2s9"
    "P8/eW+m9xOYKYcinV6/9dPfPHNK9/uLiTVMDL/EuWl0cYtdaHbtG+X3P6jH45u2dfh7JvP"
    "DH1NGfWZc9Q1lBh+Z2rMR9IHNPiNYDMvcUtQ7BbS0Ibus8mz67+nV4feeX63CUFVY9nVbw"
    "+Dy4uaNcN1GqR9nv2+lQoubrZDq8QJaNaZ8+2v+hCAdevpJaWIHF9gyjQAWW6d3NjV+BZS"
    "vfpgoslkweLLCWheM7R1WdvznjwJaMygTXv5d4B7T/wdJi42JWDFKObR6Xg+jQYmSVs5LP"
    "zt+LzO69ROfmd/nnDDa2dE2RJdElJCnXOagrWUpC1MLq7gV8joxHQNGV5vgaaRcTahnVWM"
    "toqRmasyr0ciVE4aVq8ksV4135zbKYGBxjHRAGEmxEDrafCiTwMMXhTLewmVxMC4B+FUe6"
    "wRJTwsnjePegli1JvIePscU4dvp4NZhdDa6HPcYsLwHY2e5B7ZrevLjG3uuMU93sxRwAfh"
    "Fg5vbVqOPzK2y7xENUZP/rpM7Qo7f7eQfpyn5gHafpe84Yf7c0Yi7ujtJja4Vqrol24CQd"
    "TtLbtjW29EwVTtJPUes8J+nbpTil8ZyI6Z1Ekw9wC4dL89QoIaNywqVTdUq6f1g+HH+UZq"
    "NPN/5xK9aXkkPsTXrgOrj6PLxAsrKGI/GizG5pTUlGs9kdVZDmOF76MPzeGP5xO5rSC4Ht"
    "1pDj8eDbFtiVYoJABjdnD2KcsOydBUElxyVBy43WMpyj1XeOBucrwCk3SQ0lcspHYuQ8xz"
    "XX14Hzw6Lkovf7uZycP1IK/CjobQ0km6DNAyRbM40gINlOUeuQrtKCdJXjs5wNKr9RCcd5"
    "ysTal+F09HFEmbMwrpcSn/PRF5/6dLUn3MzMk+DbKn71VWJBPmKhN4Qt3WSeujFx+wdEkE"
    "PkeGO3fVaQq+NKygorj4V0zRAHfTde38I0Z1wKuE7gOpvPbADX2WWuc4s8g+Xc6ySb3wx+"
    "Fme8YW+AVGzp5garaDi9RY7m4lfomiJB3VHNQTIKvAOC4Qoj23xGpufqxKh2/AtUAC1NGy"
    "00XSdaYZWEr+ATBKIhg1JC0VBTzZHo5FcXm+BmpClFVMYiyiQKSgtFxgG7C+xuu1bHlvJ8"
    "wO6eotaB3W0Bu+t4C3GCNybUOY73PQ/F+z6b4X2fInhjp9ZC0z0pWAjsJGvRIKyr4dOJ0S"
    "n5/xCZ01EhmNMvzulTPrS4nU6+jGajSVA3y7LNJ80hg/17ycOL2d2MPiAopuUEDbXujevh"
    "mOy9VNp3XH1J/xodt22u1cyDD+JKkS8QtCpJeEimqWPZyIoo3oslVL4gclXpfHelXqrucj"
    "IZxyywy1GSi7v7fDkk0PvIk0GaG/OOYnhHXFcxxCOCgLkA5ti2RLaO7fAaVzLX3rhB04U2"
    "2pwEL1rFyRFsN5EQ6wDZXzXQns1YprMB3g7vHLCV9PEgT6OEMS6enhZ/Qo2ob5c+QTNo9o"
    "/xaE4Mm0CaGEGT2fzTdDgjBlDICRTQDU83m+xeNqlONjsTqwCPlJSF8+LmEEdpvnBrJBfQ"
    "c1wStNxkLS8I8ktN0WR7I3xGnZaFOk9iZzTRQsvR4zR+HcTlIFCgsAKgzNlR0fcWu28rro"
    "O0MGiiqCYix/38GogIAfIlhSp5Tinl0rrdYiwy8TjatkUMlhKQpYXoNAVfxh/aTZzTph4H"
    "3NF1uQy8E4/rJtKMzYyjyuLWDCwB5dv9k1pmN/IiHDeZeeYxlK7knLuZJSv3wGYHjUZbs+"
    "86LCZskK3gx9+mWJcz+iKnWjl2ZB7HIx4StTOL45Qo19lJsFJFDQ6AK1FKoYt4eQ5dHx15"
    "bemHzq47+qiZ/6TurHsxsEyL/iLy5AORmsnybBI+q6NYuZryiN1DgfIsy7Tduf+sjgKlUV"
    "tC1ymJrqoHTy3qA47CJw7oA7u0cgklm8Si4FVsuJqs56A7MfDcJP95GeMg+YQifRV/cEdm"
    "Z6EsnSQcmUk7DNxeyuGREgp8OZtnvsJ+ko2srjUD6eaDZvziJ9FYsuM8m7ZK822wodgbi6"
    "gLPWvuKsixwS4NIHN+UrGtPZE7j3iTzuQp/elQPanBxF0fQX7N6WRaQH7NKWqdJ7+GEtCi"
    "kfBRGShJwlGSJNxBpd32mYY7u4QBW7oTwNddzMA23YJrXFwSYoKas6Sld7LmlKw4EWMydQ"
    "osUlnh5eIWoRNbeWmLo6qrqsIWBxWriNKfDOc3wY5mu7wpRvZlb5coHK2x7Hg2XhM3GZlL"
    "WkuClov4IYCAep4/ItMO7jyvTJ06o/QEZzeC/pof065uuY/mqVYRU1oAg7pr3xU7doreBP"
    "8Y/ON2GXQt9ZTAPz5FrfP4x5HlWFDrcckOar29Wk6/3IrlSZbC0PFH3ZQzNtWITEK7SypU"
    "lUZf16/O68nd5XiIbqfDKz+rPa4//6ZvuuwyZqfDwTjheq/xWlps2NEeOZZLTKy+9ICqQD"
    "5OTLSqOY9FwI/LAfoF0V8Uwn4ByB+KfFBiQ6J8NQP9TOiTYp2B/+zNu5/ffXj7/t0O9d2V"
    "PLDTwB6NYWsYawqpXqeBfk6aS/0VeRumhRJ5SwhaLzVo/ciFjnfBoGPzoccgj2P3+3ns8S"
    "5EVdLNBwH62PRcy3ORrhn4Ffr2zcF/fvtGo5ho2NJsNkT4ibK/mnqBxrLj/jSk//xpdI2I"
    "Y+mtsYPkpYttpLlsBrnUpzNI5K/73+17V/jPgBGGAKombAl9IIhPiCoEgvgUtc5FEJNlOa"
    "XuHBv8z3o9yurX2vKcSrJhZpQje7lW1k64xjJZmrE0e2Lgkp/9cXKBqOS98ftgGhQIJbZW"
    "UBt0OJ1Ophdo16/myMWyqGmTVkhOs53teIhNKxCbtjdyRY23pGSXVpfjOvcxA/xQP1QwP6"
    "5pCuH1R5OzsZEu6czFVi/PJ/UH9PmcUoeMraDVeML/878pOICNWTb64ACekCsADuApap3H"
    "ARTNnoHMGZHMGdPR2PZXdkXJiEiXLOHS/OxTbswxvbsJXG7bMwKXe3Z3dTUcbttvKArGar"
    "qxBhn12+j21h/zqFkWbkirDaILu9iGE5eEdKbm7C9ps2KpGZqzKqTmhCjoucl6XmPHYdbA"
    "yybcIiIdaMoAjFsT7Axg3JqikC4wbnEdMBi3lJKyGTdHlh0pXq6sXMYtlba3N3Z1LDtY8g"
    "xX04OkvUfNSPWUjoU4RZicdJZf9CZweMDhtWthaimbAxzeKWqdh8ODLtNHZjLC3bQIIxXK"
    "NplQ7e06wkbawYYdXcOGrvcGgefm01C6Hcxmv0+m1xdIWcnGA5bCEkC7EdeTz4PRze5+UB"
    "n43hjNZndDaTYbXyDNcYh14zj6vXE5uPrt7vYCBWWp7w1azHoyJR9LXiCXGNVE7oa8QOOx"
    "NLi+pt9wW70zqN15b9zdJO4TsOIjtj1sdx1s/c+4+xx8hLcmn3A5mcxn8+ngliA0/TKckm"
    "9jmi6dYpYUWEZ+PMxn6XYyGfsRMWvJMk367e/Gv0l3t3SZIEKe/igFK20RCu6Mh6A+yyao"
    "z1IEdQvJVDLUw6rgStH7x93wjhKggXRxJvVqcHM1HPuXFIqJ3pjGxeS9pFuKSKZYVASyxN"
    "IHDZhVBP/vs8lNFiu9FUhaT5riov8gXXMqwzSywy48TXfJAveKfl5lO2oOkhSgfLIryWsl"
    "LCL6gCTZpXi2jQ3XD1YRMnUSch3gGasv92fLa6GJv5doxsynH9uZmU9NEJ3hzmWrYy8B6i"
    "hdHbLr4rXFKqKfnZAdEYFtNrnN0tWsAKhJsfqAfdsSYAPO13w2WHmo2TtmQqzQhtmwY9aE"
    "6X3Gk2dARmUb32fpXIMIwZ4CO595S4jCKXdzmLY0wbrCsu0usOwWoFiTsqDpJmsaopNOQc"
    "sQnXQaevZzEqUCMUopwQ4wCHVHKgUYqtiVWdbRS9jv5QB6Yegp7yXR5cf0XEnEv0oL1udh"
    "vX/dFucVKokds5KYJfvcrij6MTFAvyj6UMftmOjT8o7C2EeEAPmSQn4ppmktCEf73jldrv"
    "IWmXix8F7y+ejmbjzuMXbVEkA93aKEbGChKiEnsNlVCdnABiZFGcB2sw11Et+YCZaBb3bE"
    "f2Sl2BZUTGyBAs2Zk2UcmxFwdzDgaSfQxoppq2WhFRYY6SJcykrTVTI/D4Oqo29y/DCcxk"
    "9K22jKfVpLcdAKtUpvC3JVJip91Gz8TFCbej4kqTyl2P1+XprScjtSsj3eZmeHZClB+hCk"
    "D7VrD2lpIgmkD52i1nnSh1Sy4ivspGW+PIDYA2qtYCp4TEMWvsvJHc30oOkmk7v59l+m50"
    "9b0UgintDb7MjbVOCtfJAS5GNogNgJZE4JKmEwHk9+v0C+LE0iuvknTSEyNkVUUHLJWMs2"
    "XZNgWlQJUfka1eAqlqgS5le3ZClQrHvj7pr8zVOtBrwBlmkzdp6cWlk2a7tpM5ddXvaK6d"
    "mKUFboXqLGmfv6lf+/v70WnL8FYz/fveWZsG+zZ+zb5JQ1TFesft52fAdiGRLJiefnPNmJ"
    "5+fZ6Yn0XhxdzZGIp6prmOUMmqaOZSPDG4wJJsBemMEKXQXauyv1Bo9cTibjmLl5OUpGh9"
    "x9vhxOf3jjw7/vddmgc93GmfxNOF6s/8imaWo4/Mzm2EWEAuRZ1YN2OskpG+SPqaNckI0f"
    "wmZN26pAQM4BOdeuxaKlNA2Qc6eodR5yDmr7HLmuxnELpB93t6u40sDKdBhrWTa04fgml0"
    "pqkvdcJ51WCN6zs2rttPLYNGclsQM9c/i0iEyNbI9tmm49a+3bM44p+/Ysc8bSW2mYH/FG"
    "woZibyyXxfpkZwsxhbuQvl53zhBdZimSIuBHZQBzccxVW2PSPJwHsDvpGhca8r6JHjqNJ1"
    "eD8QXSTUXW743Z7NcLFD7luOd+e+qDd3XfS9QIefjXli7vimzJiuYyFpZMmyQqUp9dct6W"
    "/ENHc7FD4PJYwefZVH1cCmoSdaDHEPGzRVfjm+HvBFD8HClveuvXxNzVNrX8ypiDq/noy/"
    "AC0QiTJ3xvXE8Ho6B4pkpV4I+5u5kOB+S9vxwPaYFVG8vKiv4eWkp1PprSepk2djW7KdUy"
    "6cdhxaM/SKK1PT0bi2RHZ4nDq5TOkCaGobLCymMB4jIlDEU2mkNVphlqX11mYUWboOU2aN"
    "m1Ny7RjiC5lJCqb6H88Lo11SQCuywkcLh5pphUjSbH3xz76W8h6f83/2vU45lUQpaSp9Hj"
    "fly8kn/8CXV64kE0j6D5N/vHeESL0gfS98btZDb/NB3OLtBuxSigm5IdcxouxzDMsomonU"
    "AHAuzqIKFSoUc8abc2tnRNkaWgJcOBOX+X/kNau6fnZ0gCQi8hFNQwYL3kIhB1rdJDotYL"
    "2WIlR15b+qE43dFHzfwndRSseIc9yN/Owyqd61scr2SGccuO47nwWmFZd1flvIlB7Oev/h"
    "O5X8jWoFZ9PG0MuczY2iS+L8XZSmkVV92kMxq2HHwsNNaE4Ns2rgYtDcOE4NtT1DpP8G1k"
    "ORbUelyyg1pvr5bTL7f5yNhQ87ILA4EaswqPo8gSkwp1U1bfpFH+SK5n1UgOJRIwL6lIa/"
    "0xFszXk7vL8RDdTodXfo/V+Avi34zDOx0OxskuSnhNg01VyVJYZQizYU4KAtocaKua81gM"
    "7pQk4M2Dd0brgOweeJlNA6AH3uE98CBDHDLEm6SG1meIDyzryjTcgGRKMVmRu/08BovcoR"
    "jQgXzEVW+AtuN/Wpr2Gm273KClba6RjGibd9e00fPKRGt5g1byE0aGiWTFDx19lTweLuFx"
    "PITZSjbUvWsVIVWAMQPGrGUrV0u5E2DMTlHrPIzZcbOlj63XRJ/Z1zxR62evc/rMvk7GQ+"
    "E10xHKBngn0EGEz855UtLJqJw4wFRSuuMt/o1ZXn1OBOZepIsov+aZx2RUNsqvU/O4QCfG"
    "o/RgPBKDXkWKqWaJzOlgdAeCKBMFIHkih99lBw6/S8UNx90RETsnLglJD80xa9LWbKirxU"
    "aY9kqJdqhc7XGZrz2yJbBf3W7AlpqEwk2XquS/rmTDwOoUW75LlCLAorf7eQyY4g+U/PB0"
    "6F0CfBPwTd1gHoBvOkWt8/BNrubqQoTTTqATPmQNjNPCVGlNLRFPPSLSAQeybj/dR09mHO"
    "i+ALhcdwGorgCuYku23TWzgStn5m/sCQ2uf9abDcY0w9eRdezcG5ej8Tio+KLpul/HZT68"
    "+vVm5FfpcrGyMjS/Uten4c1wSq8FP8Lnk49Tw0UgXbXSFBTPopUM5pryiJln9vEB/dzEk2"
    "Co5Ppja0k52RUoikxcMuprtE93WAOeXpYdh/jSGCdugf8D/k/L7KV2WsLg/5yi1nn8HygP"
    "f+RCcnBcXMdxcSNM9GJeUtRkPiFDPd5VUzNtZt1X3q6ae/k6S2qa9lpccX5vU7+z6c1k+p"
    "nqInjOvfHr6NOvF2ilPazujbspUdX8Ann2w3ZKHrnQUgtLnpoWFm4APLkd3lwgKnlvkL9e"
    "k5dKurqbzSefh9MLRC6rRAOS4jmuucb2fgzZpj9+3A8gv3e5pLVNZ5Pxl6C4qWPqT1i9N6"
    "7Gkxm9ouim05Rqp355RXoqtilamzEqDJEKzTEI037AUrN9fTkWrVErqR4uoPPMh4DuW6T7"
    "g/UOOm++zv2dx6MIFHzXmQ8AnTdZ54FtUYTgiwqCjpus4wTnzk+mJwQh2lCMV48cxBKMlp"
    "qiybZ40GdaFvRQVA9BhVBhFcTEAP2i6EeOBPmxjwhBon9Z4c7sBoRVBTo3TQW8kc6RqcdO"
    "8c9Y4ktAlhZQ0BR8GX9ouxYZXpjTG1xGRHl6JS8B6a6Ve06iG9u7OIANbb76loeWApswjo"
    "WzIBI18A8tAhzEB+0yGzqyJB9a/TcS3is/MBD+LBubuUn/yzmn5/JDEXiPGkuUM6P9XyUl"
    "Is62v9Gmc464+PsA6V1U2dK0ffhpm9YA2+1bsFNMeMeX2d50V7bpPdBziUSkmhQqh7nNku"
    "tSCu+/coPq6C9ghNJtf1h2AF34PSDXB2LdINat7VFPEOt2ilrniXU7bm2Z4y62VXdmNnUz"
    "o/t4VhzhVqDOSCpb3vRqAbhtuQrRfLi9uXeYzZzKYGjVCyNqPad+bcqODj2RhBEdNZVTdv"
    "TOwi7JiN45V9k2tP/UgevKysoPdmQZ1Mkx+dZ18D3l3XCwtcHWBlu7E1YX2NqnqHXIK2mo"
    "wRgP5SMPF3R4ojJdzCypou0zrVhNjJoAKKEJH5frIN5vzvJsiH05iZ9zykn8nMoz0P4HS4"
    "sNs6tzbvOAmBwEFRSO53BccvcBS5bsMk5ic7LWEnIdnPDnb3iIFTIqc8L79xJ4r+Sz8/dC"
    "SO8kOojxe56Sve+zK/a+TxXsDVJTRF3DqBSsJmWFKNnhSfaBQQjdPBfvJ4IRonOwSe1Iou"
    "hn8kcc5Ri31FFd5Ri/xtk46AzSiNWiD4zSCXELwCidotaBUWoBo0SLBKYVkF9UsDNOSN6L"
    "VEmzBUciH41tQ2Z0a8ntLZyQrLHJ8O5Ka7sMk/VnZYpnq8TEIFOoKLMUs7750Y+JgSteli"
    "vu7kIZDs1qOTQQpBlL/4veeGwevpw6FCwaJeDb8YSL6Np6QLpFIv7k0JSLePRLR2b0oXkX"
    "uaTQQFVNY+BzPekOteG9fm5/WjpKIvchggj4npQWgO9po+cPfM8pah34nhbwPY7uPQgdO2"
    "/Hdy5dovwjZ/onsydKfjJK7T1RagwVqqDzjA8ZqxHKCyjX3Qil3ShHvplgm5+0JDSfKdB8"
    "Zg+iWNOftCTALwy/a29cAhnZ+D1drI9YUrCD6035G6dlawqW1prBYs4ynfCEVH0c8euqYA"
    "688bM3735+9+Ht+3c7J3x3Jc/3TjPvimfb2FAyCqxn2NsRmQ7O3bc8KbLZGbKpw9Og7j4b"
    "4Jfro0fE6yyQbmApdIwFEO8Rh1CiHuAFCp9AS51f3U2nfg8CG9O5s/05x/dzNEeSiR/3xF"
    "i+Xzpo3cvVeMwaOkKtPWV1aPqqaausanTZ8fsxIVjCmad3PAchGl1j9OCU48CjEHryNAoe"
    "h1Wfw2/hsl99ESqLiMgPrIQV4aT62+BRrSNURNPpI78zmUjvnwKxUum3MGfk0geHR6ls+t"
    "2ZkhTVUlkVqUaRd21sMqtTJYf0807Aou+upJs1lK36Gn4mZdEjEEJwNByWwbEJHJaB1htx"
    "WEacQ4b7ks39heM74bjXHpvL3BEFtjmmPEQulhW5mMA3rZxCIXaddXT6iYg79vRsUn4hQx"
    "0My5qttGzjOij8Hv/xfAZ2b2AgMvwn00D+/zFyNo6L178gYlUj23xGmoNsTD5ApQPI5As+"
    "pY9WmMw7FMwQZGEbWbJmv0ryYlU8n2H6f43UVw/enH9BWFxT1juw9E/J5gNL/xS1DmFxbQ"
    "iLa1+j4605EJ64CZzkjW7IdN22Dt8/5d7YXqd9incW071xdxMdT75jROLjYOQPX8pafCy9"
    "uBuKG9LwOGIGCq+uSVlok9ic5ZSxixqH6DotDdpusraLETZA07S7DyPAT6+YFsVIKzD/k5"
    "KQ4l4SU1l/P7umvQq8pGR2Qzt2cnVJxG80MbWjyGaSvFOy205HV/MeexUpAd2ZLM8m0ee1"
    "awnhRTi5fB6QxR7GfBSP2WLEm3RkYleavT7FS2zbsn4p6/6cZpw3JIf08w4b7O1gaRGM5j"
    "xouJKVFVZRKITMpX8EQNyPB2z3kW4qj+T284r42Eg2EDZce0MPB8gXwURbKvpB1x7JLfQ7"
    "9VncH9NHDZV8AvOwIWxHvAskh9OGxtgsfThtOCHeGU4bTlHrXKcNkBhUcWIQ3TXJh2fltO"
    "VtaynRzmRF1MyMyE+y5sNRRAsMYdBDMT0EETiCxl1ECMjBsoip0DYvIW6uhSrgdewjUy+D"
    "OTlOfFzCEx1SH633sscajOuLuK0S9f94a/P3Br6P+JNJTKVX6Ns3eW16hhssm9++USeSep"
    "oOmWHEjVRWsvGAkWv6FxceLbrn//WRTAq0Np+ww4iTq+ADeHJkIhMhav1Akkwj1rk+OLMn"
    "5NaAM3uKWgdntgnOLN062ei+HBkXyjYZ5d7g6mp6N7xAsqKQ2XVvfB7M76bk32vZ9Wzybz"
    "qHr6eD3y/Qs+auVGIt0soXX4bT2ZDWvXjCtoOTVstxItyitpGgw5uQBK+rsMMbWtHy0iUG"
    "ZAFdZDwAVFJYJSGpVlglGQ8ATqiYPnyPE283DN5dOybUgap2VZdV01S8tkyXGjp+vQwBqB"
    "minSsA++bsA8/2e/Yhp27mhyTmQHYC2dkEFXSF7Lwy12vNcTR2MjBjVJ+L6FR2AnUU29mn"
    "B+2PlSh72Edft19pp4TtUCAWgVhs2YrTUooJiMVT1DoXsQg5uU0ms06SyYLa0K1hzVuYUb"
    "4luQTXi97t8Obazw3fyt8bgy+D0XhwOaacemjx7mn0mz2PbuyI9Osdk96QZPGYqS647Sdl"
    "IX24Oft82rwDnqx+nsySN7TNpjBVFpeDlNWDCHibeCaiCkgIdsm4Oo4KxOnihCCooCzKOA"
    "QWaOOXaOPEFOTIMA7XDcCWE1uVH9vtplgCtLf7J7VrF+UFN24/NPLIY6wZj72cww7/fp/r"
    "mEMnQ3mjuJHiOa65xvZ/0aqjwQMQfcAvSHMd9O0b5ZKCeOvnlRwEVTvEMMYqupuOkSLbNG"
    "ScEb1d4oOhxXeDN9Y+nJucEIMO5yanqHU4N2nBuYmia8ojg3nO3Ov2Ap2JZyztoITmlXmW"
    "CJoRCYCzmcnAJ2KRpagOEcfmpUi6iYHnJvlPxU57UxvccUXRsTtqlOIlzrDrkq8eTIMMT3"
    "E3ps/lLTrR4S86jET1tElFHy1Nz1DRYuN7c9umFN++0a/07VsfOSaSEXkSeTAiXptk2lJg"
    "0hPHzjBMl+zBjxi5z2bac6zkE8CFbPCC1QcX8oScCXAhT1HrPC6k/2dK39kuZDi+Nhcy/G"
    "tVqq3YQ6RoSAtLwKmJSNTn1Lx5/botfs3K1P38QFXeiPiKSbH6sH3bFmQV03zUsCiwCSnA"
    "NYXrWjOkMAyPGP+iUbZZ4kB5JIHWHIk4UtoTY0e7NE0dy0aG+xCVS8C6IIJV4RrudvVGDV"
    "5OJuOYdXI5SjZtvft8OSQbnb/PkUGaWxbVUZ53PiAOp2co2D9EZ3jmsfv9PK9cjoysPkcN"
    "fF7wecH7AZ8XtA7Hpqd6bOpqrk5LX4ooISrTwZSos9evOVAmozJh9u+xcJYZzsZLOMssDw"
    "NwzsB5Yaob5nSe4+9Zhaf2Ih2or5O3OQz/mMf2hRDJHz4P/vgxtjeMJzefwuER5K/Gk0sW"
    "4Kx5/QLgdU/rzgCu4yesiywjO4Fa2/QuzbZuiY4r265TwBCNCUL2Y3PMzrS3gQ21iIYjYq"
    "DfJusX6McToh89VXNp/z8W9Rje6+fSjnSUpG+HVVsWS1bCpobRkvq0KBbZPWgkjz/d/G/n"
    "/1NToS4WEJWt8/TaSVkBUXmKWuchKvfLNq/btZfoIHdTft3exO7HzZHFxTrAJ8SBfsdThu"
    "RddhWSd6kiJHu7Qhxmpv3QfpDLn80LvDRtxkT++2xyk0GK7SSSG4OmuOg/SNec9maos3Cl"
    "UOSTY0keLLGq0wckyTG/Ur0I7DsBQL046mTbd1ibYzYFvJfowGJSNwOsMWJYc6p1seJX2w"
    "hzYmM859kYz7M3xvNU7TvFNcXT9KJSUJlLzLWOTOm1hW2yIshFVMAQBk0clDKZeCnS6qiq"
    "fFHDVMCbChldBGK5kOQLoJu78biXOdsB2xewZbzdGRAfh36+0k3lceoxWzXs7vXz6GeFjp"
    "Jsj7Mtg58i6mrKIzKXyCR/d5QVVj0dq8iVncdX6C5IFiWw+cP8ZFH32UT+5zjIoBVnkYMN"
    "FWkuuaEpmJ2GWsFnMBhySnw7fm0n+qCA7IYg3SZsC33gvk+IBQXu+xS1zsN9h+szP1kYjA"
    "fem4f3ppue4MsUynTwNWrva5NeLfOaIWRGkNXfAMHZpmW1MVZvqRmasyq0IyVEIZ6rya+S"
    "6hHcye+X1iL50AmpDpFCpeXpqtiVNUY4cTZ1v5foAKdcB3XfkDC54Zqo7TN2HNmfQimuIn"
    "a/n8dXYDpSMj13YX7nYyzmK4yC8ReIMgMb5D+DVj+WabUrtNRsx+1TwsClJa9k9G9z0Uc2"
    "JtrDqt84B1EUzOUyTVWU/XCx5pYGeVHIFuLiteX6oXxAWABh0S6bu6WuKxAWp6h1LsLCFK"
    "IrzI6SFWfnPGwFGZWdYHme5ivIRqcTRIQQjsh0EOfySSHdVGRdCOK9RI1WeZA0Wz3APDGQ"
    "2SGQqQhIx1v8GyuMHSGHmNmLdHACn53zBNOQUTkLRSqcxs/ydYl1LOJcxoQ6gfRR8rFX7l"
    "rIp48JgVsvDHoL296SoR5WBRXQ+8fd8I52rQ2k743Z8GZ+4XvW98bHwWhM7y2J840L9bMt"
    "eZ3feuUijGFUBIr6JclCXXZcCds2K2ope3GJS8HqIry6JCmmFPb5nixDHA47muO9Ms4Naa"
    "++AuUn9mKg36bptyGHAJ+wObKmns48Adjf7OfR/w/Y1CzJJuMqKNH5lSjeM1x7s/0OuoYd"
    "MgDCAoFlB74VWHbQenNY9shCzUujRUQ6Qe4kaDQeEi2bQku6r4/kRxWlFELZJqPcG4zHk9"
    "8vkKzr5vO9cT28+ecFUrGxaQJ1sLc8BKZ3XKpGT5cgJev1cPHlx/AZpthpUji+A0xCRTR8"
    "Q5yNX7Fsuwti1vUYzsb+Zq6zsQqHceZGjWXHRbQZKU1c0rUlpn/K6Nm0H7GNTDtIUEKWbS"
    "rYcfrIWZnPBnJNRBZSVnBRCc+DRgTgzIBZ2wizFpyZU9Q6jzOzXcBF7JCISF3tCGpzZd6c"
    "8RjUZFS2nXeWMqqzHRo2wG1wYhpjRTsYG4UODXZiHVyw2rtANerU4FaX3aVpr7ettXsMcz"
    "45JNeot7aDBZtvh529A9saKSvZeMBIdpHtEZObzFD0w5qqHhuUE0H0g/vIMk2dGPD/g517"
    "7+z12fsff0HYeEK0B6WDiD2OiIrctN1f8WeBTwA+QdcW25Zah+ATnKLWeXyCRyx0uLEd3j"
    "lfoPzw9idZ94SKo+4EoEqnWJXOhhiQA2xryoplN27v5JqL8n5MY9rBnoq5dWDsaLYh9YRt"
    "R7CiekSkg5RAJUkY9KUSQHg7vIPovuFqNvgmp9ngm3SzQfKJ7rZ4Cu9OFhE5aC9rGtqd38"
    "z++v+p68FI"
)
