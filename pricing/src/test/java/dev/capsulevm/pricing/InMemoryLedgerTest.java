package dev.capsulevm.pricing;

import java.time.Clock;
import java.time.Duration;

/** The ledger contract over {@link InMemoryLedger}; a reopen is a snapshot and restore. */
class InMemoryLedgerTest extends LedgerContract {
  @Override
  protected Ledger newLedger(Clock clock, Amount maxBalance, Duration maxExpiryAhead) {
    return new InMemoryLedger(clock, maxBalance, maxExpiryAhead);
  }

  @Override
  protected Ledger reopen(Ledger ledger, Clock clock, Amount maxBalance, Duration maxExpiryAhead) throws Exception {
    return InMemoryLedger.restore(((InMemoryLedger) ledger).snapshot(), clock, maxBalance, maxExpiryAhead);
  }
}
