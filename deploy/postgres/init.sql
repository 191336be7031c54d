-- One database per service: no service reads another's tables.
-- The postgres image runs this once, when its data volume is first initialised; the
-- services then create their own tables and seed their data on start (idempotent).
-- Add a line here (and in deploy/kubernetes/components/postgres/init.sql, its copy) for a new service.
CREATE DATABASE product;
CREATE DATABASE inventory;
CREATE DATABASE pricing;
CREATE DATABASE discount;
CREATE DATABASE recommendation;
CREATE DATABASE orders;
CREATE DATABASE email;
CREATE DATABASE sms;
