-- What each ticket source's imports cover: every ticket the source created at or before
-- `through` (microseconds) has been imported. Reports end their windows there, so a week
-- whose tickets were not exported yet never reads as a drop. Sources imported before this
-- migration are taken to cover up to their latest ticket.
CREATE TABLE ticket_coverage (
    store_id INTEGER NOT NULL,
    source   TEXT    NOT NULL,
    through  INTEGER NOT NULL,
    PRIMARY KEY (store_id, source)
);
INSERT INTO ticket_coverage (store_id, source, through)
    SELECT store_id, source, MAX(created) FROM tickets GROUP BY store_id, source;
