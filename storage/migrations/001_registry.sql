-- Levels of government are data: a deployment defines its own list.
CREATE TABLE levels (
    id   TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    rank INTEGER NOT NULL UNIQUE -- 0 is the top (central)
);
INSERT INTO levels(id, name, rank) VALUES
    ('central', 'Trung ương', 0),
    ('province', 'Tỉnh', 1),
    ('district', 'Huyện', 2),
    ('commune', 'Xã', 3);

CREATE TABLE points (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    level         TEXT NOT NULL REFERENCES levels(id),
    parent        TEXT REFERENCES points(id),
    contact_name  TEXT NOT NULL DEFAULT '',
    contact_phone TEXT NOT NULL DEFAULT '',
    contact_email TEXT NOT NULL DEFAULT '',
    enabled       INTEGER NOT NULL DEFAULT 1,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX points_parent ON points(parent);

-- A point's long-lived device credential; only its SHA-256 is kept.
CREATE TABLE point_credentials (
    id          TEXT PRIMARY KEY,
    point_id    TEXT NOT NULL REFERENCES points(id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    revoked_at  TEXT
);
CREATE INDEX point_credentials_point ON point_credentials(point_id);

-- People's accounts.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL, -- account role: it_admin, secretary, chair or viewer
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE meetings (
    id          TEXT PRIMARY KEY,
    title       TEXT NOT NULL,
    starts_at   TEXT NOT NULL,
    duration_min INTEGER NOT NULL DEFAULT 120,
    chair_point TEXT NOT NULL REFERENCES points(id),
    root_point  TEXT NOT NULL REFERENCES points(id),
    depth       INTEGER NOT NULL,
    on_air_max  INTEGER NOT NULL DEFAULT 1,
    state       TEXT NOT NULL DEFAULT 'scheduled', -- scheduled, open, live, ended
    created_by  TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    opened_at   TEXT,
    live_at     TEXT,
    ended_at    TEXT
);

-- Explicit additions to and exclusions from a meeting's scope.
CREATE TABLE meeting_points (
    meeting_id TEXT NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
    point_id   TEXT NOT NULL REFERENCES points(id),
    mode       TEXT NOT NULL CHECK (mode IN ('include', 'exclude')),
    PRIMARY KEY (meeting_id, point_id)
);

-- People invited to a meeting, with their role in it.
CREATE TABLE meeting_people (
    meeting_id TEXT NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users(id),
    role       TEXT NOT NULL, -- chair, secretary or viewer
    PRIMARY KEY (meeting_id, user_id)
);
