// smtp/address_test.cpp - RFC 5321 4.1.2 path grammar: what is a mailbox,
// what is refused, and which refusal (syntax, length, SMTPUTF8).
#include "smtp/address.h"

#include <gtest/gtest.h>

#include <string>

namespace herald::smtp {
namespace {

const AddressLimits kLimits;

ParsedPath mail(std::string_view arg) { return parse_path(arg, /*allow_null=*/true, kLimits); }
ParsedPath rcpt(std::string_view arg) { return parse_path(arg, /*allow_null=*/false, kLimits); }

TEST(ParsePath, PlainMailbox) {
  auto p = mail("<Alice.Smith@Example.TEST>");
  ASSERT_EQ(p.error, PathError::none);
  EXPECT_FALSE(p.null_path);
  EXPECT_EQ(p.mailbox.local_part, "Alice.Smith");  // local part keeps its case
  EXPECT_EQ(p.mailbox.domain, "example.test");     // domain is lower-cased
  EXPECT_EQ(p.mailbox.str(), "Alice.Smith@example.test");
  EXPECT_TRUE(p.params.empty());
}

TEST(ParsePath, SurroundingSpaceIsTolerated) {
  // "MAIL FROM: <a@b>" is common even though RFC 5321 has no space there.
  auto p = mail("  <a@example.test>");
  ASSERT_EQ(p.error, PathError::none);
  EXPECT_EQ(p.mailbox.str(), "a@example.test");
}

TEST(ParsePath, NullPathOnlyWhereAllowed) {
  auto m = mail("<>");
  EXPECT_EQ(m.error, PathError::none);
  EXPECT_TRUE(m.null_path);
  EXPECT_TRUE(m.mailbox.empty());
  EXPECT_EQ(rcpt("<>").error, PathError::syntax);
}

TEST(ParsePath, ParamsAreUpperCasedKeywordsWithOptionalValues) {
  auto p = mail("<a@example.test> size=1000 BODY=8BITMIME SMTPUTF8");
  ASSERT_EQ(p.error, PathError::none);
  ASSERT_EQ(p.params.size(), 3u);
  EXPECT_EQ(p.params[0].keyword, "SIZE");
  EXPECT_EQ(p.params[0].value, "1000");
  EXPECT_EQ(p.params[1].keyword, "BODY");
  EXPECT_EQ(p.params[1].value, "8BITMIME");
  EXPECT_EQ(p.params[2].keyword, "SMTPUTF8");
  EXPECT_EQ(p.params[2].value, "");
}

TEST(ParsePath, BadParamKeywordIsSyntax) {
  EXPECT_EQ(mail("<a@example.test> =1").error, PathError::syntax);
  EXPECT_EQ(mail("<a@example.test> SI;ZE=1").error, PathError::syntax);
}

TEST(ParsePath, SourceRouteIsDropped) {
  // RFC 5321 4.1.2 / C: accept the A-d-l, ignore it.
  auto p = mail("<@a.example,@b.example:user@d.example>");
  ASSERT_EQ(p.error, PathError::none);
  EXPECT_EQ(p.mailbox.str(), "user@d.example");
  EXPECT_EQ(mail("<@a.example,@b.example user@d.example>").error, PathError::syntax);
}

TEST(ParsePath, BarePostmasterHasNoDomain) {
  // RFC 5321 4.5.1.
  auto p = rcpt("<Postmaster>");
  ASSERT_EQ(p.error, PathError::none);
  EXPECT_EQ(p.mailbox.local_part, "postmaster");
  EXPECT_EQ(p.mailbox.domain, "");
  EXPECT_EQ(rcpt("<webmaster>").error, PathError::syntax);
}

TEST(ParsePath, QuotedLocalPartMayHoldAtSignAndAngle) {
  auto p = rcpt(R"(<"john @>doe"@example.test>)");
  ASSERT_EQ(p.error, PathError::none);
  EXPECT_EQ(p.mailbox.local_part, R"("john @>doe")");
  EXPECT_EQ(p.mailbox.domain, "example.test");
  auto esc = rcpt(R"(<"a\"b"@example.test>)");
  ASSERT_EQ(esc.error, PathError::none);
  EXPECT_EQ(esc.mailbox.local_part, R"("a\"b")");
}

TEST(ParsePath, AddressLiteral) {
  auto p = rcpt("<postmaster@[192.0.2.1]>");
  ASSERT_EQ(p.error, PathError::none);
  EXPECT_EQ(p.mailbox.domain, "[192.0.2.1]");
}

TEST(ParsePath, ShellMetacharactersAreSyntaxErrors) {
  // The address is data, never a command line.
  EXPECT_EQ(mail("<;sleep 1;>").error, PathError::syntax);
  EXPECT_EQ(mail("<a;rm -rf /@example.test>").error, PathError::syntax);
  EXPECT_EQ(mail("<$(id)@example.test>").error, PathError::syntax);
  EXPECT_EQ(mail("<a@example.test|id>").error, PathError::syntax);
}

TEST(ParsePath, Malformed) {
  EXPECT_EQ(mail("a@example.test").error, PathError::syntax);    // no brackets
  EXPECT_EQ(mail("<a@example.test").error, PathError::syntax);   // unclosed
  EXPECT_EQ(mail("").error, PathError::syntax);
  EXPECT_EQ(mail("<@example.test>").error, PathError::syntax);   // empty local part
  EXPECT_EQ(mail("<a@>").error, PathError::syntax);              // empty domain
  EXPECT_EQ(mail("<a..b@example.test>").error, PathError::syntax);
  EXPECT_EQ(mail("<a@example..test>").error, PathError::syntax);
  EXPECT_EQ(mail("<a@-example.test>").error, PathError::syntax);
  EXPECT_EQ(mail("<a b@example.test>").error, PathError::syntax);
}

TEST(ParsePath, LengthLimits) {
  // RFC 5321 4.5.3.1.1: local part <= 64 octets; 4.5.3.1.2: domain <= 255.
  EXPECT_EQ(mail("<" + std::string(64, 'a') + "@example.test>").error, PathError::none);
  EXPECT_EQ(mail("<" + std::string(65, 'a') + "@example.test>").error, PathError::too_long);
  std::string d255 = std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                     std::string(63, 'c') + "." + std::string(61, 'd') + ".e";
  ASSERT_EQ(d255.size(), 255u);
  EXPECT_EQ(mail("<u@" + d255 + ">").error, PathError::none);
  std::string d256 = std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                     std::string(63, 'c') + "." + std::string(62, 'd') + ".e";
  ASSERT_EQ(d256.size(), 256u);
  EXPECT_EQ(mail("<u@" + d256 + ">").error, PathError::too_long);
}

TEST(ParsePath, Utf8NeedsSmtputf8Parameter) {
  // RFC 6531 3.4.
  EXPECT_EQ(mail("<j\xC3\xBCrgen@example.test>").error, PathError::needs_utf8);
  EXPECT_EQ(mail("<a@b\xC3\xBC" "cher.example>").error, PathError::needs_utf8);
  auto p = mail("<j\xC3\xBCrgen@example.test> SMTPUTF8");
  ASSERT_EQ(p.error, PathError::none);
  EXPECT_EQ(p.mailbox.local_part, "j\xC3\xBCrgen");
  // 8-bit octets that would be bad even with SMTPUTF8 are a syntax error.
  EXPECT_EQ(mail("<j\xC3\xBC rgen@example.test>").error, PathError::syntax);
}

// RFC 6531 3.3: only well-formed UTF-8 (RFC 3629), with SMTPUTF8 or without.
TEST(ParsePath, MalformedUtf8IsRefused) {
  for (std::string addr : {"\xff\xfe\x9b" "31m@example.org", "\xc0\xaf@example.org", "a@\xed\xa0\x80.example",
                           "\xe9t\xe9@example.org", "a@b\xc3", "\"\xff\"@example.org", "a@\xf4\x90\x80\x80.example"}) {
    EXPECT_EQ(mail("<" + addr + "> SMTPUTF8").error, PathError::bad_utf8) << addr;
    EXPECT_EQ(mail("<" + addr + ">").error, PathError::bad_utf8) << addr;
    EXPECT_EQ(parse_path("<" + addr + ">", false, kLimits, /*smtputf8=*/true).error, PathError::bad_utf8) << addr;
  }
  EXPECT_EQ(mail("<\"gr\xc3\xa5\"@gr\xc3\xa5.example> SMTPUTF8").error, PathError::none);
}

TEST(ValidDomain, Grammar) {
  EXPECT_TRUE(valid_domain("example.test", false));
  EXPECT_TRUE(valid_domain("localhost", false));
  EXPECT_TRUE(valid_domain("a-b.c0.example", false));
  EXPECT_TRUE(valid_domain("[192.0.2.1]", false));
  EXPECT_TRUE(valid_domain("[IPv6:2001:db8::1]", false));
  EXPECT_FALSE(valid_domain("", false));
  EXPECT_FALSE(valid_domain("example.test.", false));
  EXPECT_FALSE(valid_domain(".example.test", false));
  EXPECT_FALSE(valid_domain("a-.example", false));
  EXPECT_FALSE(valid_domain("ex_ample.test", false));
  EXPECT_FALSE(valid_domain("[192.0.2.1", false));
  EXPECT_FALSE(valid_domain("[]", false));
  EXPECT_TRUE(valid_domain(std::string(63, 'a') + ".test", false));
  EXPECT_FALSE(valid_domain(std::string(64, 'a') + ".test", false));  // label > 63
  EXPECT_FALSE(valid_domain("b\xC3\xBC" "cher.example", false));
  EXPECT_TRUE(valid_domain("b\xC3\xBC" "cher.example", true));
}

TEST(ValidLocalPart, Grammar) {
  EXPECT_TRUE(valid_local_part("alice", false));
  EXPECT_TRUE(valid_local_part("a.b+tag", false));
  EXPECT_TRUE(valid_local_part("!#$%&'*+-/=?^_`{|}~", false));
  EXPECT_TRUE(valid_local_part(R"("a b")", false));
  EXPECT_TRUE(valid_local_part(R"("a\"b")", false));
  EXPECT_FALSE(valid_local_part("", false));
  EXPECT_FALSE(valid_local_part(".a", false));
  EXPECT_FALSE(valid_local_part("a.", false));
  EXPECT_FALSE(valid_local_part("a..b", false));
  EXPECT_FALSE(valid_local_part("a b", false));
  EXPECT_FALSE(valid_local_part("a;b", false));
  EXPECT_FALSE(valid_local_part("a(b)", false));
  EXPECT_FALSE(valid_local_part(R"("a)", false));
  EXPECT_FALSE(valid_local_part(R"("a\")", false));  // the closing quote is escaped
  EXPECT_FALSE(valid_local_part(R"("a"b")", false));
  EXPECT_FALSE(valid_local_part("\"a\tb\"", false));
  EXPECT_FALSE(valid_local_part("j\xC3\xBCrgen", false));
  EXPECT_TRUE(valid_local_part("j\xC3\xBCrgen", true));
}

}  // namespace
}  // namespace herald::smtp
