-- Roll call: one row per point that connected or was marked absent.
CREATE TABLE attendance (
    meeting_id    TEXT NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
    point_id      TEXT NOT NULL REFERENCES points(id),
    first_joined  TEXT,
    last_left     TEXT,
    media_seen    INTEGER NOT NULL DEFAULT 0, -- unused: "media flowing" is read live from the quality monitor
    absent_reason TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (meeting_id, point_id)
);

-- The attendance record, frozen when a meeting ends.
CREATE TABLE attendance_records (
    meeting_id  TEXT PRIMARY KEY REFERENCES meetings(id) ON DELETE CASCADE,
    recorded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    body        TEXT NOT NULL -- JSON: the roll call at the end
);
