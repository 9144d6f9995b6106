-- A fingerprint of a group of rows (`grouped` is a table alias: the whole row): equal exactly when the group
-- holds the same rows, in any order. The reports decide with it which pages a change touches without reading
-- the rows of the pages it does not touch (lib/reports/page_inputs.py).
create or replace macro rows_digest(grouped) as (
    md5(string_agg(cast(grouped as varchar), chr(10) order by cast(grouped as varchar)))
);
