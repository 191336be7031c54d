-- One database per service: no service reads another's tables.
-- Runs once, when the postgres volume is first initialised; the services then create
-- their own tables and seed their data on start (idempotent).
-- A copy of deploy/postgres/init.sql (kustomize reads no file outside its folder);
-- tests/deploy/test_manifests.py checks that both create the same databases.
CREATE DATABASE product;
CREATE DATABASE inventory;
CREATE DATABASE pricing;
CREATE DATABASE discount;
CREATE DATABASE recommendation;
CREATE DATABASE orders;
CREATE DATABASE email;
CREATE DATABASE sms;
