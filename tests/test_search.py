"""test_search.py - the full-text index built at delivery (schema 12), as
`herald search USER QUERY` reads it: messages delivered by SMTP with a
base64 text part, a quoted-printable part in ISO-8859-1, an HTML part and
an encoded-word Subject are found by their decoded words, never by their
encodings; BODY-only words in headers are TEXT's; --mailbox, --json, an
expunged message gone from the results, a query without words refused.
"""

import base64
import smtplib
import unittest

from harness import HOST, Herald, HeraldTestCase, unique


def wrap(text, width=76):
    return "\r\n".join(text[i:i + width] for i in range(0, len(text), width)) + "\r\n"


def mixed(subject_encoded, words):
    """mixed - a multipart/mixed message: base64 UTF-8 text, QP ISO-8859-1
    text, HTML, and a base64 attachment whose decoded words must not count."""
    b64_text = base64.b64encode(f"Grüße from the base64 part: {words[0]} ostrich\r\n".encode()).decode()
    attachment = base64.b64encode(b"attachedsecret words in a binary attachment\r\n").decode()
    return (
        f"From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jm@client.test>\r\n"
        f"To: searcher@example.test\r\n"
        f"Subject: {subject_encoded}\r\n"
        f"Message-ID: <{unique('s')}@client.test>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
        "--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + wrap(b64_text) +
        "--b1\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        f"Le na=EFve {words[1]} est arriv=E9, coup=\r\n=E9 en deux: porcu=\r\npine\r\n"
        "--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        f"<html><head><style>.x{{color:red}}</style></head><body><p>An <b>html</b>&nbsp;{words[2]} "
        "&amp; a zebra</p></body></html>\r\n"
        "--b1\r\nContent-Type: application/octet-stream; name=\"x.bin\"\r\n"
        "Content-Disposition: attachment; filename=\"x.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + wrap(attachment) +
        "--b1--\r\n"
    ).encode()


class TestSearch(HeraldTestCase):
    @classmethod
    def setUpClass(cls):
        cls.herald = Herald(protocols=("smtp", "pop3", "imap"))
        cls.user = cls.herald.add_user("searcher@example.test")

    @classmethod
    def tearDownClass(cls):
        cls.herald.close()

    def deliver(self, msg, rcpt=None):
        rcpt = rcpt or self.user
        before = self.herald.mailbox_count(rcpt)
        with smtplib.SMTP(HOST, self.herald.smtp_port, local_hostname="client.test", timeout=15) as s:
            s.sendmail("sender@client.test", [rcpt], msg)
        self.herald.wait_mailbox(rcpt, before + 1)

    def search(self, *args):
        return self.herald.cli_json("search", self.user, *args)

    def uids(self, *args):
        return [(r["mailbox"], r["uid"]) for r in self.search(*args)]

    def test_decoded_words_are_found_and_encodings_are_not(self):
        words = [unique("marmalade"), unique("xylophone"), unique("giraffe")]
        self.deliver(mixed("=?UTF-8?B?U2Now7ZuZSBHcsO8w59l?=", words))  # "Schöne Grüße"
        rows = self.search(words[0])
        self.assertEqual(len(rows), 1, rows)
        row = rows[0]
        self.assertEqual(row["mailbox"], "INBOX")
        self.assertEqual(row["subject"], "Schöne Grüße")
        self.assertEqual(row["from"], "Jürgen Müller <jm@client.test>")
        self.assertRegex(row["date"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
        uid = row["uid"]
        found = [("INBOX", uid)]
        self.assertEqual(self.uids(f"{words[0]} ostrich"), found, "a phrase in the base64 part")
        self.assertEqual(self.uids(words[1]), found, "a word of the quoted-printable part")
        self.assertEqual(self.uids(f"naïve {words[1]}"), found, "ISO-8859-1 converted")
        self.assertEqual(self.uids(f"{words[1]} est arrivé, coupé en deux: porcupine"), found,
                         "soft line breaks undone")
        self.assertEqual(self.uids(f"html {words[2]} & a zebra"), found, "HTML tags and entities undone")
        self.assertEqual(self.uids("Jürgen"), found, "From's encoded-words decoded")
        self.assertEqual(self.uids("schöne grüße"), found, "Subject's encoded-words decoded")
        for absent in ["attachedsecret", "color", "na=EFve", "EFve", "R3LDn",
                       base64.b64encode(f"Grüße from the base64 part: {words[0]}".encode()).decode()[:12]]:
            self.assertNotIn(("INBOX", uid), self.uids(absent), absent)

    def test_text_output_mailbox_and_expunge(self):
        word = unique("quokka")
        msg = (f"From: Ann <ann@client.test>\r\nTo: {self.user}\r\nSubject: about the {word}\r\n"
               f"Message-ID: <{unique('m')}@client.test>\r\n\r\nThe {word} smiles.\r\n").encode()
        self.deliver(msg)
        rows = self.search(word)
        self.assertEqual(len(rows), 1)
        uid = rows[0]["uid"]
        out = self.herald.cli("search", self.user, word).stdout.splitlines()
        self.assertEqual(len(out), 1, out)
        self.assertTrue(out[0].startswith(f"INBOX  {uid}  "), out)
        self.assertTrue(out[0].endswith(f"Ann <ann@client.test>  about the {word}"), out)
        self.assertEqual(self.uids(word, "--mailbox", "inbox"), [("INBOX", uid)])
        self.assertEqual(self.uids(word, "--mailbox", "Archive"), [])
        bad = self.herald.cli("search", self.user, word, "--mailbox", "Nope", check=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("no such mailbox", bad.stderr)
        # Expunged: its index row goes with the message.
        self.herald.cli("flags", self.user, "INBOX", str(uid), "--add", "\\Deleted")
        self.herald.cli("expunge", self.user, "INBOX", "--deleted")
        self.assertEqual(self.uids(word), [])

    def test_a_query_without_words_is_refused(self):
        res = self.herald.cli("search", self.user, "?!", check=False)
        self.assertNotEqual(res.returncode, 0)
        self.assertTrue(res.stderr.startswith("herald: "), res.stderr)


if __name__ == "__main__":
    unittest.main()
