-- Whether the catalog holds a table or view named $table_name (a catalog built before a mart existed
-- has none).
select count(*) > 0 as present
from information_schema.tables
where table_name = $table_name
