-- The relations a report connection holds: a page says a table is not built yet instead of failing.
select table_name from information_schema.tables
