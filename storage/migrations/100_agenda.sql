-- The draft agenda: ordered items of a meeting. Published versions are
-- frozen in manifests (agenda_versions); the draft stays editable.
CREATE TABLE agenda_items (
    id            TEXT PRIMARY KEY,
    meeting_id    TEXT NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
    position      INTEGER NOT NULL,            -- 1, 2, ... (the item's number)
    title         TEXT NOT NULL,
    presenter     TEXT NOT NULL DEFAULT '',
    duration_min  INTEGER NOT NULL DEFAULT 0,
    access        TEXT NOT NULL DEFAULT '{"everyone":true,"roles":[],"points":[]}', -- JSON agenda.Access
    updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX agenda_items_meeting ON agenda_items(meeting_id, position);

-- Uploaded documents. Content lives in the object store under blob_key
-- (blobs/sha256/<sha256>), shared by identical uploads and never rewritten.
CREATE TABLE agenda_documents (
    id          TEXT PRIMARY KEY,
    meeting_id  TEXT NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
    item_id     TEXT REFERENCES agenda_items(id) ON DELETE SET NULL, -- NULL: not attached
    position    INTEGER NOT NULL DEFAULT 0,  -- order within the item
    role        TEXT NOT NULL CHECK (role IN ('document', 'attachment')),
    title       TEXT NOT NULL,
    file_name   TEXT NOT NULL,
    kind        TEXT NOT NULL,               -- sniffed: pdf, docx, xlsx, pptx, jpeg, png
    media_type  TEXT NOT NULL,
    size        INTEGER NOT NULL,
    sha256      TEXT NOT NULL,
    blob_key    TEXT NOT NULL,
    sig_state   TEXT NOT NULL DEFAULT 'unsigned' CHECK (sig_state IN ('unsigned', 'valid', 'invalid')),
    sig_report  TEXT NOT NULL DEFAULT '',    -- JSON: agenda.DocumentSignature
    uploaded_by TEXT NOT NULL DEFAULT '',
    uploaded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX agenda_documents_meeting ON agenda_documents(meeting_id);
CREATE INDEX agenda_documents_item ON agenda_documents(item_id, position);
CREATE INDEX agenda_documents_blob ON agenda_documents(blob_key);

-- Published versions. The manifest's bytes are in the object store at
-- manifest_key; manifest_sha256 is their hash, which the next version names
-- as previous_sha256 (a hash chain).
CREATE TABLE agenda_versions (
    meeting_id      TEXT NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
    version         INTEGER NOT NULL,
    manifest_key    TEXT NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    previous_sha256 TEXT NOT NULL DEFAULT '',
    published_at    TEXT NOT NULL,
    published_by    TEXT NOT NULL DEFAULT '',
    sig_state       TEXT NOT NULL DEFAULT 'unsigned' CHECK (sig_state IN ('unsigned', 'signed')),
    sig_method      TEXT NOT NULL DEFAULT '',  -- upload (an official's .p7s) or seal
    signer_name     TEXT NOT NULL DEFAULT '',
    signer_org      TEXT NOT NULL DEFAULT '',
    signed_at       TEXT NOT NULL DEFAULT '',  -- the signature's signing time or timestamp
    signed_by       TEXT NOT NULL DEFAULT '',  -- who uploaded it or applied the seal
    p7s_key         TEXT NOT NULL DEFAULT '',
    sig_report      TEXT NOT NULL DEFAULT '',  -- JSON: the verifier's result
    PRIMARY KEY (meeting_id, version)
);
