// run.mjs - Herald's IMAP server driven by imapflow, one scenario per run.
//
//   node run.mjs SCENARIO ['{"json": "arguments"}']
//
// The server and account come from the environment: HERALD_IMAP_HOST,
// HERALD_IMAP_PORT, HERALD_IMAP_USER, HERALD_IMAP_PASS (tests/test_imapflow.py
// sets them). The scenario prints its result as one line "RESULT <json>" on
// stdout and exits 0; a failure prints "ERROR <json>" and exits 1. A scenario
// that waits for the test to act prints a line such as "IDLING" first and
// reads nothing: the test acts when it sees the line. imapflow's own log is
// kept in memory and written to stderr when the scenario fails (all of it, as
// it goes, with HERALD_IMAPFLOW_DEBUG=1).

import { createHash, webcrypto } from 'node:crypto';

// imapflow wants Node 20 (its engines field); Debian 12's nodejs is 18,
// where Web Crypto is not yet a global. The one thing it needs from it:
globalThis.crypto ??= webcrypto;
const { ImapFlow } = await import('imapflow'); // after the line above

const env = name => {
    const v = process.env[name];
    if (!v) {
        throw new Error(`${name} is not set`);
    }
    return v;
};

const LOG = [];
const DEBUG = !!process.env.HERALD_IMAPFLOW_DEBUG;
const watchers = [];

function record(level, obj) {
    const line = JSON.stringify({ level, ...obj }, (k, v) => (typeof v === 'bigint' ? v.toString() : v));
    if (DEBUG) {
        process.stderr.write(line + '\n');
    } else {
        LOG.push(line);
        if (LOG.length > 400) {
            LOG.shift();
        }
    }
    for (const w of watchers.slice()) {
        w(obj);
    }
}

const logger = Object.fromEntries(['trace', 'debug', 'info', 'warn', 'error', 'fatal'].map(l => [l, obj => record(l, obj)]));

// waitLog - a promise for the first log entry whose msg matches re (the only
// outside sign imapflow gives that the server answered IDLE with "+").
function waitLog(re, ms = 10000) {
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no log entry matching ${re} within ${ms} ms`)), ms);
        const w = obj => {
            if (typeof obj.msg === 'string' && re.test(obj.msg)) {
                clearTimeout(timer);
                watchers.splice(watchers.indexOf(w), 1);
                resolve(obj);
            }
        };
        watchers.push(w);
    });
}

function client(options = {}) {
    return new ImapFlow({
        host: env('HERALD_IMAP_HOST'),
        port: Number(env('HERALD_IMAP_PORT')),
        secure: false,
        doSTARTTLS: false, // plaintext on loopback: the harness sets auth.allow_plaintext
        auth: { user: env('HERALD_IMAP_USER'), pass: env('HERALD_IMAP_PASS') },
        logger,
        logRaw: DEBUG,
        disableAutoIdle: true,
        disableCompression: true, // only the compress scenario asks for it
        connectionTimeout: 10000,
        greetingTimeout: 10000,
        socketTimeout: 20000,
        ...options
    });
}

const plain = v => JSON.parse(JSON.stringify(v, (k, x) => {
    if (typeof x === 'bigint') {
        return x.toString();
    }
    if (x instanceof Set) {
        return [...x];
    }
    if (x instanceof Map) {
        return Object.fromEntries(x);
    }
    if (x instanceof Date) {
        return x.toISOString();
    }
    if (x && x.type === 'Buffer' && Array.isArray(x.data)) {
        return Buffer.from(x.data).toString('base64');
    }
    return x;
}));

function summary(msg) {
    return {
        seq: msg.seq,
        uid: msg.uid,
        flags: msg.flags ? [...msg.flags].sort() : undefined,
        modseq: msg.modseq !== undefined ? msg.modseq.toString() : undefined,
        size: msg.size,
        internalDate: msg.internalDate ? new Date(msg.internalDate).toISOString() : undefined,
        envelope: msg.envelope ? plain(msg.envelope) : undefined,
        bodyStructure: msg.bodyStructure ? plain(msg.bodyStructure) : undefined,
        // the source itself when small, its SHA-256 always
        source: msg.source && msg.source.length <= 16384 ? msg.source.toString('base64') : undefined,
        sourceSha: msg.source ? createHash('sha256').update(msg.source).digest('hex') : undefined,
        sourceLength: msg.source ? msg.source.length : undefined
    };
}

async function fetchAll(c, range, query, options) {
    const out = [];
    for await (const msg of c.fetch(range, query, options)) {
        out.push(summary(msg));
    }
    return out;
}

function mailboxInfo(m) {
    return {
        path: m.path,
        exists: m.exists,
        uidNext: m.uidNext,
        uidValidity: m.uidValidity !== undefined ? m.uidValidity.toString() : undefined,
        highestModseq: m.highestModseq !== undefined ? m.highestModseq.toString() : undefined,
        flags: m.flags ? [...m.flags].sort() : undefined,
        permanentFlags: m.permanentFlags ? [...m.permanentFlags].sort() : undefined,
        specialUse: m.specialUse,
        qresync: !!m.qresync
    };
}

const scenarios = {
    // connect and log in, list the folders with their special use, STATUS,
    // open INBOX, fetch envelope, body structure and source of every message.
    async read() {
        const c = client();
        await c.connect();
        const out = {
            capabilities: [...c.capabilities.keys()].sort(),
            enabled: [...c.enabled].sort(),
            authenticated: c.authenticated,
            list: (await c.list()).map(f => ({ path: f.path, specialUse: f.specialUse || null, delimiter: f.delimiter }))
        };
        out.status = plain(await c.status('INBOX', { messages: true, unseen: true, uidNext: true, uidValidity: true, highestModseq: true }));
        out.mailbox = mailboxInfo(await c.mailboxOpen('INBOX', { readOnly: true }));
        out.messages = await fetchAll(c, '1:*', { uid: true, flags: true, envelope: true, bodyStructure: true, source: true, size: true, internalDate: true });
        await c.logout();
        return out;
    },

    // APPEND (literals; one message of args.bigSize octets) with flags and a
    // date, flags added and removed, SEARCH, MOVE with its UID map.
    async append_move(args) {
        const c = client();
        await c.connect();
        const out = {};
        const date = new Date(args.date);
        const small = Buffer.from(args.small, 'base64');
        out.appendSmall = plain(await c.append('Drafts', small, ['\\Draft', '\\Seen', '$Herald'], date));
        const line = 'The quick brown fox jumps over the lazy dog, 0123456789.\r\n';
        let body = `From: Big <big@client.test>\r\nTo: ${env('HERALD_IMAP_USER')}\r\nSubject: a big one\r\n` +
            'Message-ID: <big@client.test>\r\n\r\n';
        while (body.length < args.bigSize) {
            body += line;
        }
        const big = Buffer.from(body);
        out.bigSize = big.length;
        out.bigSha = createHash('sha256').update(big).digest('hex');
        out.appendBig = plain(await c.append('Drafts', big, [], date));
        out.drafts = mailboxInfo(await c.mailboxOpen('Drafts'));
        out.fetched = await fetchAll(c, '1:*', { uid: true, flags: true, internalDate: true, size: true, source: true });
        // flags by UID
        const smallUid = out.appendSmall.uid;
        const bigUid = out.appendBig.uid;
        out.flagsAdd = await c.messageFlagsAdd(String(bigUid), ['\\Flagged', '$Important'], { uid: true });
        out.flagsRemove = await c.messageFlagsRemove(String(smallUid), ['\\Seen'], { uid: true });
        out.afterFlags = (await fetchAll(c, '1:*', { uid: true, flags: true })).map(m => ({ uid: m.uid, flags: m.flags }));
        out.search = {
            flagged: await c.search({ flagged: true }, { uid: true }),
            unseen: await c.search({ seen: false }, { uid: true }),
            keyword: await c.search({ keyword: '$Important' }, { uid: true }),
            subject: await c.search({ subject: 'big one' }, { uid: true }),
            body: await c.search({ body: 'lazy dog' }, { uid: true }),
            draft: await c.search({ draft: true }, { uid: true }),
            larger: await c.search({ larger: 10000 }, { uid: true }),
            none: await c.search({ subject: 'no such subject anywhere' }, { uid: true })
        };
        out.move = plain(await c.messageMove(String(smallUid), 'Archive', { uid: true }));
        out.draftsAfterMove = (await fetchAll(c, '1:*', { uid: true })).map(m => m.uid);
        out.archiveStatus = plain(await c.status('Archive', { messages: true, uidNext: true }));
        await c.mailboxOpen('Archive');
        out.archived = (await fetchAll(c, '1:*', { uid: true, flags: true, source: true, internalDate: true }));
        await c.logout();
        return out;
    },

    // IDLE: open INBOX, start IDLE, print IDLING once the server said "+",
    // then wait (args.wait ms at most) for the 'exists' event.
    async idle(args) {
        const c = client();
        await c.connect();
        const box = await c.mailboxOpen('INBOX');
        const out = { before: box.exists };
        const exists = new Promise(resolve => c.on('exists', ev => resolve({ ev, at: Date.now() })));
        const idling = waitLog(/^Initiated IDLE/);
        const idle = c.idle();
        await idling;
        const since = Date.now();
        process.stdout.write('IDLING\n');
        const timeout = new Promise(resolve => setTimeout(() => resolve(null), args.wait || 5000));
        const got = await Promise.race([exists, timeout]);
        out.exists = got ? plain(got.ev) : null;
        out.ms = got ? got.at - since : null;
        // any command ends IDLE (imapflow sends DONE); the new message is readable
        const msgs = await fetchAll(c, '*', { uid: true, envelope: true });
        out.last = msgs.map(m => ({ uid: m.uid, subject: m.envelope.subject }));
        await idle; // ended by the FETCH: imapflow sent DONE
        await c.logout();
        return out;
    },

    // CONDSTORE: HIGHESTMODSEQ on open, a flag change raises it, FETCH
    // (CHANGEDSINCE) returns only the changed message, STATUS agrees.
    async condstore() {
        const c = client();
        await c.connect();
        const out = { enabled: [...c.enabled].sort() };
        out.open = mailboxInfo(await c.mailboxOpen('INBOX'));
        out.all = (await fetchAll(c, '1:*', { uid: true, flags: true, modseq: true })).map(m => ({ uid: m.uid, modseq: m.modseq }));
        const before = c.mailbox.highestModseq;
        out.flagged = await c.messageFlagsAdd({ uid: '2' }, ['\\Flagged'], { uid: true });
        out.changed = (await fetchAll(c, '1:*', { uid: true, flags: true }, { uid: true, changedSince: before }))
            .map(m => ({ uid: m.uid, flags: m.flags, modseq: m.modseq }));
        out.unchanged = (await fetchAll(c, '1:*', { uid: true, flags: true }, { changedSince: BigInt(out.changed[0]?.modseq || before) }))
            .map(m => m.uid);
        out.status = plain(await c.status('INBOX', { highestModseq: true, messages: true }));
        out.mailboxAfter = mailboxInfo(c.mailbox);
        await c.logout();
        return out;
    },

    // QRESYNC: a first session notes UIDVALIDITY and HIGHESTMODSEQ and logs
    // out; another (without QRESYNC) deletes UID 2 and flags UID 3; the first
    // comes back with SELECT (QRESYNC ...) and must hear of both as events.
    async qresync() {
        const a = client({ qresync: true });
        await a.connect();
        const out = { enabled: [...a.enabled].sort() };
        out.first = mailboxInfo(await a.mailboxOpen('INBOX'));
        out.firstUids = (await fetchAll(a, '1:*', { uid: true })).map(m => m.uid);
        await a.logout();

        const b = client();
        await b.connect();
        await b.mailboxOpen('INBOX');
        out.deleted = await b.messageDelete({ uid: '2' }, { uid: true });
        out.flagged = await b.messageFlagsAdd({ uid: '3' }, ['\\Flagged', '$Later'], { uid: true });
        await b.logout();

        const c = client({ qresync: true });
        const events = [];
        c.on('expunge', ev => events.push({ type: 'expunge', ...plain(ev) }));
        c.on('flags', ev => events.push({ type: 'flags', ...plain(ev) }));
        await c.connect();
        out.reenabled = [...c.enabled].sort();
        out.second = mailboxInfo(await c.mailboxOpen('INBOX', {
            uidValidity: BigInt(out.first.uidValidity),
            changedSince: BigInt(out.first.highestModseq)
        }));
        out.events = events;
        out.secondUids = (await fetchAll(c, '1:*', { uid: true })).map(m => m.uid);
        await c.logout();
        return out;
    },

    // STARTTLS as imapflow does it by default, the server's certificate
    // verified against args.ca (PEM) for the name args.servername.
    async starttls(args) {
        const c = client({ doSTARTTLS: true, servername: args.servername, tls: { ca: [args.ca], rejectUnauthorized: true } });
        await c.connect();
        const out = { secure: c.secureConnection, authenticated: c.authenticated };
        out.mailbox = mailboxInfo(await c.mailboxOpen('INBOX', { readOnly: true }));
        await c.logout();
        return out;
    },

    // COMPRESS=DEFLATE (RFC 4978): imapflow negotiates it when offered; then
    // a message is read and one appended and read back through the stream.
    async compress(args) {
        const c = client({ disableCompression: false });
        await c.connect();
        const out = {
            offered: c.capabilities.has('COMPRESS=DEFLATE'),
            compressed: !!c._deflate // set by imapflow once COMPRESS DEFLATE succeeded
        };
        out.mailbox = mailboxInfo(await c.mailboxOpen('INBOX'));
        out.messages = await fetchAll(c, '1:*', { uid: true, source: true, envelope: true });
        const doc = Buffer.from(args.append, 'base64');
        out.append = plain(await c.append('INBOX', doc, ['\\Seen']));
        out.appended = await fetchAll(c, String(out.append.uid), { uid: true, source: true, flags: true }, { uid: true });
        await c.logout();
        return out;
    }
};

async function main() {
    const name = process.argv[2];
    const args = process.argv[3] ? JSON.parse(process.argv[3]) : {};
    if (!scenarios[name]) {
        throw new Error(`unknown scenario ${name}; known: ${Object.keys(scenarios).join(', ')}`);
    }
    const result = await scenarios[name](args);
    process.stdout.write('RESULT ' + JSON.stringify(plain(result)) + '\n');
}

// A deadline for the whole run: a hung scenario fails with its log.
const deadline = setTimeout(() => fail(new Error('scenario did not finish within 40 s')), 40000);
deadline.unref();

function fail(err) {
    for (const line of LOG) {
        process.stderr.write(line + '\n');
    }
    process.stdout.write('ERROR ' + JSON.stringify({ message: String(err && err.message || err), code: err && err.code, response: err && err.response, stack: err && err.stack }) + '\n');
    process.exit(1);
}

main().then(() => process.exit(0), fail);
