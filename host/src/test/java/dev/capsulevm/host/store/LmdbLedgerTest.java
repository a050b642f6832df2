package dev.capsulevm.host.store;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.Ledger;
import dev.capsulevm.pricing.LedgerContract;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;

/** pricing's ledger contract over {@link LmdbLedger}; a reopen closes the environment and opens it again. */
class LmdbLedgerTest extends LedgerContract {
  @TempDir Path dir;
  private final List<LmdbCapsuleStorage> opened = new ArrayList<>();

  private LmdbCapsuleStorage openStore() throws Exception {
    LmdbCapsuleStorage store = LmdbCapsuleStorage.open(dir.resolve("ledger"), 16L << 20, 16);
    opened.add(store);
    return store;
  }

  @Override
  protected Ledger newLedger(Clock clock, Amount maxBalance, Duration maxExpiryAhead) throws Exception {
    return openStore().ledger(clock, maxBalance, maxExpiryAhead);
  }

  @Override
  protected Ledger reopen(Ledger ledger, Clock clock, Amount maxBalance, Duration maxExpiryAhead) throws Exception {
    opened.forEach(LmdbCapsuleStorage::close);
    opened.clear();
    return openStore().ledger(clock, maxBalance, maxExpiryAhead);
  }

  @AfterEach
  void close() {
    opened.forEach(LmdbCapsuleStorage::close);
  }
}
