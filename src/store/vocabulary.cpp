// store/vocabulary.cpp - the names of recipient states and journal events,
// as the database, the log lines and the CLI write them.
#include <array>
#include <utility>

#include "store/journal.h"
#include "store/recipient_state.h"

namespace herald::store {
namespace {

constexpr std::array<std::pair<RecipientState, std::string_view>, 6> kStates{{
    {RecipientState::pending, "pending"},
    {RecipientState::deferred, "deferred"},
    {RecipientState::delivered, "delivered"},
    {RecipientState::bounced, "bounced"},
    {RecipientState::held, "held"},
    {RecipientState::dead, "dead"},
}};

constexpr std::array<std::pair<JournalEvent, std::string_view>, 17> kEvents{{
    {JournalEvent::received, "received"},
    {JournalEvent::queued, "queued"},
    {JournalEvent::delivered, "delivered"},
    {JournalEvent::deferred, "deferred"},
    {JournalEvent::bounced, "bounced"},
    {JournalEvent::held, "held"},
    {JournalEvent::login, "login"},
    {JournalEvent::login_failed, "login_failed"},
    {JournalEvent::connection_refused, "connection_refused"},
    {JournalEvent::rejected, "rejected"},
    {JournalEvent::released, "released"},
    {JournalEvent::deleted, "deleted"},
    {JournalEvent::dead_letter, "dead_letter"},
    {JournalEvent::resent, "resent"},
    {JournalEvent::expired, "expired"},
    {JournalEvent::dsn_sent, "dsn_sent"},
    {JournalEvent::quarantined, "quarantined"},
}};

template <typename Table, typename E>
std::string_view name_of(const Table& table, E value) {
  for (const auto& [v, name] : table)
    if (v == value) return name;
  return "unknown";
}

template <typename E, typename Table>
std::optional<E> value_of(const Table& table, std::string_view text) {
  for (const auto& [v, name] : table)
    if (name == text) return v;
  return std::nullopt;
}

}  // namespace

std::string_view to_string(RecipientState state) { return name_of(kStates, state); }
std::optional<RecipientState> parse_recipient_state(std::string_view text) {
  return value_of<RecipientState>(kStates, text);
}

std::string_view to_string(JournalEvent event) { return name_of(kEvents, event); }
std::optional<JournalEvent> parse_journal_event(std::string_view text) {
  return value_of<JournalEvent>(kEvents, text);
}

JournalEvent event_for(RecipientState state) {
  switch (state) {
    case RecipientState::pending: return JournalEvent::queued;
    case RecipientState::deferred: return JournalEvent::deferred;
    case RecipientState::delivered: return JournalEvent::delivered;
    case RecipientState::bounced: return JournalEvent::bounced;
    case RecipientState::held: return JournalEvent::held;
    case RecipientState::dead: return JournalEvent::dead_letter;
  }
  return JournalEvent::queued;
}

}  // namespace herald::store
