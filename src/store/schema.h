// store/schema.h - the versioned schema of the embedded backend.
//
// Migrations are applied in order inside one transaction each; the version
// reached is kept in schema_version. Never edit a released migration: add one.
#pragma once

namespace herald::store {

inline constexpr const char* kMigrations[] = {
    // 1: the foundation. The IMAP columns (uidvalidity, uidnext, modseq,
    //    flags) are here from the start so that IMAP needs no data migration.
    R"sql(
CREATE TABLE domains (
  name     TEXT PRIMARY KEY,
  created  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE users (
  id             INTEGER PRIMARY KEY,
  address        TEXT NOT NULL UNIQUE,
  password_hash  TEXT NOT NULL,
  quota_bytes    INTEGER NOT NULL DEFAULT 0,
  used_bytes     INTEGER NOT NULL DEFAULT 0,
  created        INTEGER NOT NULL
);
CREATE TABLE aliases (
  address  TEXT NOT NULL,
  target   TEXT NOT NULL,
  PRIMARY KEY (address, target)
) WITHOUT ROWID;
CREATE TABLE mailboxes (
  id             INTEGER PRIMARY KEY,
  user_id        INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name           TEXT NOT NULL,
  uidvalidity    INTEGER NOT NULL,
  uidnext        INTEGER NOT NULL DEFAULT 1,
  highestmodseq  INTEGER NOT NULL DEFAULT 1,
  subscribed     INTEGER NOT NULL DEFAULT 1,
  UNIQUE (user_id, name)
);
CREATE TABLE blob_files (
  sha256    TEXT PRIMARY KEY,
  size      INTEGER NOT NULL,
  refcount  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE messages (
  id          INTEGER PRIMARY KEY,
  queue_id    TEXT NOT NULL,
  sender      TEXT NOT NULL,
  message_id  TEXT NOT NULL DEFAULT '',
  client      TEXT NOT NULL DEFAULT '',
  size        INTEGER NOT NULL,
  received    INTEGER NOT NULL,
  body        BLOB,                 -- inline body, or NULL when blob_sha is set
  blob_sha    TEXT REFERENCES blob_files(sha256)
);
CREATE TABLE mailbox_messages (
  mailbox_id    INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  uid           INTEGER NOT NULL,
  message       INTEGER NOT NULL REFERENCES messages(id),
  prefix        TEXT NOT NULL DEFAULT '',  -- Return-Path, Delivered-To of this copy
  size          INTEGER NOT NULL,          -- octets of prefix + body
  flags         INTEGER NOT NULL DEFAULT 0,
  keywords      TEXT NOT NULL DEFAULT '',
  modseq        INTEGER NOT NULL,
  internaldate  INTEGER NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX mailbox_messages_message ON mailbox_messages(message);
CREATE TABLE queue (
  id                  INTEGER PRIMARY KEY,
  message             INTEGER NOT NULL REFERENCES messages(id),
  queue_id            TEXT NOT NULL,
  recipient           TEXT NOT NULL,
  original_recipient  TEXT NOT NULL,
  status              TEXT NOT NULL,  -- pending | deferred | held
  attempts            INTEGER NOT NULL DEFAULT 0,
  created             INTEGER NOT NULL,
  next_attempt        INTEGER NOT NULL,
  last_reply          TEXT NOT NULL DEFAULT ''
);
CREATE INDEX queue_due ON queue(status, next_attempt);
CREATE INDEX queue_queue_id ON queue(queue_id);
CREATE INDEX queue_message ON queue(message);
CREATE TABLE journal (
  id          INTEGER PRIMARY KEY,
  time_ms     INTEGER NOT NULL,
  event       TEXT NOT NULL,
  queue_id    TEXT NOT NULL DEFAULT '',
  message_id  TEXT NOT NULL DEFAULT '',
  sender      TEXT NOT NULL DEFAULT '',
  recipient   TEXT NOT NULL DEFAULT '',
  client      TEXT NOT NULL DEFAULT '',
  size        INTEGER NOT NULL DEFAULT 0,
  reply       TEXT NOT NULL DEFAULT '',
  detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX journal_time ON journal(time_ms);
CREATE INDEX journal_queue_id ON journal(queue_id) WHERE queue_id != '';
CREATE INDEX journal_message_id ON journal(message_id) WHERE message_id != '';
CREATE INDEX journal_recipient ON journal(recipient) WHERE recipient != '';
CREATE INDEX journal_sender ON journal(sender) WHERE sender != '';
)sql",
    // 2: SCRAM-SHA-256 credentials (RFC 5802 3: StoredKey/ServerKey, never the
    //    password) and the right to send as any address (submission).
    R"sql(
ALTER TABLE users ADD COLUMN scram_sha256 TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN send_as_any INTEGER NOT NULL DEFAULT 0;
)sql",
    // 3: a cheaper journal. Its key orders rows by time (time_ms << 16, plus
    //    a sequence), so `--since` is a key range and journal_time goes. Of
    //    the lookup indexes only what the queries use stays, each with one
    //    entry per message or delivery instead of one per row: Message-ID and
    //    sender on the received row (other rows of the message are found by
    //    queue id), the recipient on delivery and login rows. Every index
    //    entry is a page the group commit writes and syncs.
    R"sql(
CREATE TABLE journal_v3 (
  id          INTEGER PRIMARY KEY,  -- (time_ms << 16) + sequence: time order
  time_ms     INTEGER NOT NULL,
  event       TEXT NOT NULL,
  queue_id    TEXT NOT NULL DEFAULT '',
  message_id  TEXT NOT NULL DEFAULT '',
  sender      TEXT NOT NULL DEFAULT '',
  recipient   TEXT NOT NULL DEFAULT '',
  client      TEXT NOT NULL DEFAULT '',
  size        INTEGER NOT NULL DEFAULT 0,
  reply       TEXT NOT NULL DEFAULT '',
  detail      TEXT NOT NULL DEFAULT ''
);
INSERT INTO journal_v3
  SELECT (time_ms << 16) + row_number() OVER (PARTITION BY time_ms ORDER BY id) - 1,
         time_ms, event, queue_id, message_id, sender, recipient, client, size, reply, detail
  FROM journal ORDER BY id;
DROP TABLE journal;
ALTER TABLE journal_v3 RENAME TO journal;
CREATE INDEX journal_queue_id ON journal(queue_id) WHERE queue_id != '';
CREATE INDEX journal_received_message_id ON journal(message_id) WHERE event = 'received';
CREATE INDEX journal_received_sender ON journal(sender) WHERE event = 'received';
CREATE INDEX journal_recipient ON journal(recipient) WHERE recipient != '';
)sql",
    // 4: one vocabulary for recipient states and journal events
    //    (recipient_state.h): a recipient that failed for good is "bounced".
    R"sql(
UPDATE journal SET event = 'bounced' WHERE event = 'failed';
)sql",
    // 5: the mailbox model of IMAP (mailboxes.h): special-use attributes
    //    (RFC 6154), \Noselect parents, subscriptions as names of their own
    //    (they need not exist, RFC 9051 6.3.7), the UIDs expunged with their
    //    MODSEQ (RFC 7162 QRESYNC), and the last UIDVALIDITY given per user
    //    so that none comes back. No index by MODSEQ: CHANGEDSINCE reads a
    //    mailbox's range of the primary key, and every index entry is one
    //    more page each delivery's commit writes.
    R"sql(
ALTER TABLE mailboxes ADD COLUMN special_use TEXT NOT NULL DEFAULT '';
ALTER TABLE mailboxes ADD COLUMN selectable INTEGER NOT NULL DEFAULT 1;
CREATE TABLE subscriptions (
  user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name     TEXT NOT NULL,
  PRIMARY KEY (user_id, name)
) WITHOUT ROWID;
INSERT INTO subscriptions(user_id, name) SELECT user_id, name FROM mailboxes WHERE subscribed = 1;
ALTER TABLE mailboxes DROP COLUMN subscribed;
CREATE TABLE expunged (
  mailbox_id  INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  uid         INTEGER NOT NULL,
  modseq      INTEGER NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
ALTER TABLE users ADD COLUMN last_uidvalidity INTEGER NOT NULL DEFAULT 0;
UPDATE users SET last_uidvalidity = (SELECT coalesce(max(uidvalidity), 0) FROM mailboxes WHERE user_id = users.id);
)sql",
    // 6: queue rows of local recipients are marked, so that a deferred one
    //    (a full mailbox) is tried again locally. Until now only local
    //    recipients could be deferred; remote ones wait as 'pending'.
    R"sql(
ALTER TABLE queue ADD COLUMN local INTEGER NOT NULL DEFAULT 0;
UPDATE queue SET local = 1 WHERE status = 'deferred';
)sql",
    // 7: outbound delivery claims remote recipients with a lease (who holds
    //    them, until when), so that a claim by a node that died runs out and
    //    another takes the mail (Queue::claim_remote). 0 = not leased.
    //    warned: the sender has had the delay warning for this recipient.
    //    messages.eight_bit: the body holds octets over 127, as intake saw
    //    it (BODY=8BITMIME when sent on); NULL for messages from before.
    R"sql(
ALTER TABLE queue ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE queue ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
ALTER TABLE queue ADD COLUMN warned INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN eight_bit INTEGER;
)sql",
    // 8: the DSN parameters a client gave (RFC 3461 4), in their SMTP
    //    text: per recipient NOTIFY ("SUCCESS,FAILURE", "NEVER"; '' = none
    //    given) and ORCPT ("rfc822;addr", decoded); per message RET ("FULL",
    //    "HDRS") and ENVID (decoded).
    R"sql(
ALTER TABLE queue ADD COLUMN notify TEXT NOT NULL DEFAULT '';
ALTER TABLE queue ADD COLUMN orcpt TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN ret TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN envid TEXT NOT NULL DEFAULT '';
)sql",
    // 9: how far each spool file has been taken (Queue::spool_checkpoint):
    //    written in the commit of each message taken from it, so a restart
    //    goes on after the last transaction committed. A file is known by
    //    its device, inode, size and mtime, never by its name alone.
    R"sql(
CREATE TABLE spool_checkpoints (
  spool     TEXT NOT NULL,
  device    INTEGER NOT NULL,
  inode     INTEGER NOT NULL,
  size      INTEGER NOT NULL,
  mtime_ns  INTEGER NOT NULL,
  next      INTEGER NOT NULL,
  PRIMARY KEY (spool, device, inode)
) WITHOUT ROWID;
)sql",
    // 10: the accounting record on each received row (JournalEntry): the
    //     door, the submitter, Subject, the envelope recipients, the
    //     attachments' number and names ("\n"-joined).
    R"sql(
ALTER TABLE journal ADD COLUMN door TEXT NOT NULL DEFAULT '';
ALTER TABLE journal ADD COLUMN identity TEXT NOT NULL DEFAULT '';
ALTER TABLE journal ADD COLUMN subject TEXT NOT NULL DEFAULT '';
ALTER TABLE journal ADD COLUMN recipients TEXT NOT NULL DEFAULT '';
ALTER TABLE journal ADD COLUMN attachments INTEGER NOT NULL DEFAULT 0;
ALTER TABLE journal ADD COLUMN attachment_names TEXT NOT NULL DEFAULT '';
)sql",
    // 11: each message's MIME structure, computed as it arrived (the
    //     offsets of its parts, their types, the envelopes), so that IMAP's
    //     FETCH never parses it again; NULL for messages from before.
    R"sql(
ALTER TABLE messages ADD COLUMN structure BLOB;
)sql",
    // 12: the full-text index of SEARCH BODY/TEXT and `herald search`: per
    //     message (rowid = messages.id) the words mime::indexable_text
    //     gives, the header values (Subject, From, To, Cc) and the body
    //     text in two columns so that BODY leaves the headers out. Written
    //     in the transaction that stores the message, removed in the one
    //     that collects it (SqliteCore::collect_message).
    //
    //     Contentless (content=''): the words are in the index only, never
    //     a second copy of the text in an FTS5 content table; no docsize
    //     table either (columnsize=0: nothing ranks). A contentless table
    //     forgets a row only by being told its text again (the 'delete'
    //     command); contentless_delete=1, which would not need it, came in
    //     SQLite 3.43 and Debian 12 has 3.40. So message_text_source keeps
    //     the text that was indexed, deflated (zlib), to be given back at
    //     the delete. A plain FTS5 table would keep it whole, a second time
    //     per message, and write those pages in every delivery's commit.
    //     When 3.43 is the floor, a migration can move to
    //     contentless_delete=1 and drop message_text_source.
    //
    //     The index's settings, for the group commit's batches of
    //     deliveries (measured by store/text_bench): pages of 16000
    //     octets, 8 MiB of pending words before a flush, merges of 8
    //     segments.
    //
    //     unindexed_messages: the messages with no index row (a message
    //     stored before this version, an APPEND without text), so that
    //     Mailboxes::search_text names them for the caller to read without
    //     probing the index once per message of the mailbox. The migration
    //     reads no bodies: every message stored until now is listed there.
    R"sql(
CREATE VIRTUAL TABLE message_text USING fts5(
  headers, body, content='', columnsize=0, tokenize='unicode61 remove_diacritics 2');
INSERT INTO message_text(message_text, rank) VALUES('pgsz', 16000);
INSERT INTO message_text(message_text, rank) VALUES('hashsize', 8388608);
INSERT INTO message_text(message_text, rank) VALUES('automerge', 8);
CREATE TABLE message_text_source (
  message  INTEGER PRIMARY KEY,  -- messages.id: message_text's rowid
  text     BLOB NOT NULL         -- uncompressed size (4 octets, little endian), then the zlib stream
);
CREATE TABLE unindexed_messages (
  message  INTEGER PRIMARY KEY   -- messages.id
);
INSERT INTO unindexed_messages(message) SELECT id FROM messages;
)sql",
    // 13: messages and expunged UIDs by MODSEQ within their mailbox.
    //     Version 5 went without, to spare each delivery's commit an index
    //     page; but an IMAP session asks what changed since its MODSEQ
    //     after every change it did not make itself and at each SELECT
    //     (Mailboxes::changes_since), and without the index each asking
    //     read the whole mailbox (1 ms for 10,000 messages), and every
    //     UID ever expunged from it.
    //
    //     mailboxes.messages: the number of messages, kept by triggers in
    //     the transaction that adds or removes one, instead of counting
    //     the mailbox's rows at every look-up (SELECT, STATUS, LIST).
    //
    //     message_structures: each message's MIME structure (version 11's
    //     messages.structure) in a table of its own. As the last column of
    //     messages, behind an inline body, reading it walked the body's
    //     overflow pages; SEARCH and SORT read it for every message of a
    //     mailbox. The old column is left as it is (dropping or clearing
    //     it rewrites every message) and no longer read or written.
    R"sql(
CREATE INDEX mailbox_messages_modseq ON mailbox_messages(mailbox_id, modseq);
CREATE INDEX expunged_modseq ON expunged(mailbox_id, modseq);
ALTER TABLE mailboxes ADD COLUMN messages INTEGER NOT NULL DEFAULT 0;
UPDATE mailboxes SET messages = (SELECT count(*) FROM mailbox_messages mm WHERE mm.mailbox_id = mailboxes.id);
CREATE TRIGGER mailbox_messages_added AFTER INSERT ON mailbox_messages BEGIN
  UPDATE mailboxes SET messages = messages + 1 WHERE id = NEW.mailbox_id;
END;
CREATE TRIGGER mailbox_messages_removed AFTER DELETE ON mailbox_messages BEGIN
  UPDATE mailboxes SET messages = messages - 1 WHERE id = OLD.mailbox_id;
END;
CREATE TRIGGER mailbox_messages_moved AFTER UPDATE OF mailbox_id ON mailbox_messages BEGIN
  UPDATE mailboxes SET messages = messages - 1 WHERE id = OLD.mailbox_id;
  UPDATE mailboxes SET messages = messages + 1 WHERE id = NEW.mailbox_id;
END;
CREATE TABLE message_structures (
  message    INTEGER PRIMARY KEY,  -- messages.id
  structure  BLOB NOT NULL         -- mime::encode
);
INSERT INTO message_structures(message, structure) SELECT id, structure FROM messages WHERE structure IS NOT NULL;
)sql",
    // 14: mailbox_messages.savedate, when the message was put into its
    //     mailbox (delivery, APPEND, COPY, MOVE): RFC 8514's SAVEDATE.
    //     NULL for the messages stored before, which IMAP reports as NIL.
    R"sql(
ALTER TABLE mailbox_messages ADD COLUMN savedate INTEGER;
)sql",
    // 15: metadata, the annotations of RFC 5464 on a mailbox or (mailbox
    //     0) on the server. A /private entry is its user's (owner); a
    //     /shared one has one value for everyone who sees the mailbox,
    //     kept under the mailbox's owner (0 for the server's). An owner's
    //     rows count against imap.metadata_max_entries.
    R"sql(
CREATE TABLE metadata (
  mailbox_id  INTEGER NOT NULL,  -- mailboxes.id; 0: the server
  owner       INTEGER NOT NULL,  -- users.id (0: the server's /shared entries)
  name        TEXT NOT NULL,     -- lower case, "/private/..." or "/shared/..."
  value       BLOB NOT NULL,
  PRIMARY KEY (mailbox_id, owner, name)
) WITHOUT ROWID;
CREATE INDEX metadata_owner ON metadata(owner);
CREATE TRIGGER mailbox_metadata_gone AFTER DELETE ON mailboxes BEGIN
  DELETE FROM metadata WHERE mailbox_id = OLD.id;
END;
CREATE TRIGGER user_metadata_gone AFTER DELETE ON users BEGIN
  DELETE FROM metadata WHERE owner = OLD.id;
END;
)sql",
    // 16: acl, the access lists of RFC 4314: who (a user's address, or
    //     "anyone") holds which rights (letters of "lrswipkxtea") on a
    //     mailbox its owner shares. An address, not a user id: granting
    //     to a name says nothing of whether it exists. A deleted user's
    //     grants go with them, so that a later user of the address does
    //     not inherit them.
    R"sql(
CREATE TABLE acl (
  mailbox_id  INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  identifier  TEXT NOT NULL,     -- lower case address, or "anyone"
  rights      TEXT NOT NULL,
  PRIMARY KEY (mailbox_id, identifier)
) WITHOUT ROWID;
CREATE INDEX acl_identifier ON acl(identifier);
CREATE TRIGGER user_acl_gone AFTER DELETE ON users BEGIN
  DELETE FROM acl WHERE identifier = OLD.address;
END;
)sql",
    // 17: the count of a mailbox's messages goes up in the UPDATE that
    //     takes its next UID (delivery, APPEND, COPY, MOVE), not by a
    //     trigger: a second UPDATE of the same row in every delivery's
    //     transaction. Removing and moving keep their triggers.
    R"sql(
DROP TRIGGER mailbox_messages_added;
)sql",
};

}  // namespace herald::store
