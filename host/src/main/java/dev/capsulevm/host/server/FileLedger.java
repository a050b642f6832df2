package dev.capsulevm.host.server;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.InMemoryLedger;
import dev.capsulevm.pricing.Ledger;
import dev.capsulevm.pricing.PricingException;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.crypto.PublicKey;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The host's ledger until the LMDB ledger lands: pricing's {@link InMemoryLedger}, whose snapshot is
 * written to {@code ledger.bin} in the data directory (to a temporary file, then renamed over it).
 *
 * <p>Deposits are written before {@link #deposit} returns (the operator's money must not be lost).
 * Withdrawals and refunds, which happen twice per program, mark the ledger dirty and a background task
 * writes it at most every {@code flushInterval}; {@link #close()} writes it a last time. A crash can
 * therefore lose at most the last interval's withdrawals and refunds (never a deposit). The snapshot
 * holds every nonce still in its window, so it grows with the program rate; background writes are
 * spaced at least ten times their own duration apart, which keeps them under a tenth of one thread
 * (the LMDB ledger, which writes only what changed, replaces this).
 */
final class FileLedger implements Ledger, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(FileLedger.class);
  static final String FILE = "ledger.bin";

  private final InMemoryLedger ledger;
  private final Path file;
  private final Object writeLock = new Object();
  private volatile boolean dirty;
  private long nextBackgroundWrite = System.nanoTime();

  private FileLedger(InMemoryLedger ledger, Path file) {
    this.ledger = ledger;
    this.file = file;
  }

  /** Loads {@code ledger.bin} from {@code dataDirectory}, or starts empty. */
  static FileLedger open(Path dataDirectory, Clock clock, Amount maxBalance, Duration maxExpiryAhead,
      ScheduledExecutorService scheduler, Duration flushInterval) throws IOException {
    Path file = dataDirectory.resolve(FILE);
    InMemoryLedger inner;
    if (Files.exists(file)) {
      try {
        inner = InMemoryLedger.restore(Files.readAllBytes(file), clock, maxBalance, maxExpiryAhead);
      } catch (VerificationException e) {
        throw new IOException(file + " is not a ledger snapshot: " + e.getMessage(), e);
      }
    } else {
      inner = new InMemoryLedger(clock, maxBalance, maxExpiryAhead);
    }
    FileLedger out = new FileLedger(inner, file);
    long every = Math.max(1, flushInterval.toMillis());
    scheduler.scheduleWithFixedDelay(out::flushQuietly, every, every, TimeUnit.MILLISECONDS);
    return out;
  }

  @Override
  public void deposit(PublicKey account, Amount amount) throws PricingException {
    ledger.deposit(account, amount);
    dirty = true;
    try {
      flush();
    } catch (IOException e) {
      throw new UncheckedIOException("the deposit was made but " + file + " could not be written", e);
    }
  }

  @Override
  public Amount balance(PublicKey account) {
    return ledger.balance(account);
  }

  @Override
  public void withdraw(PublicKey account, Amount amount, long nonce, Instant expiry) throws PricingException {
    ledger.withdraw(account, amount, nonce, expiry);
    dirty = true;
  }

  @Override
  public void refund(PublicKey account, Amount amount) {
    ledger.refund(account, amount);
    dirty = true;
  }

  /** Writes the snapshot if anything changed since the last write. */
  void flush() throws IOException {
    synchronized (writeLock) {
      if (!dirty) {
        return;
      }
      dirty = false;
      byte[] bytes = ledger.snapshot();
      Path tmp = file.resolveSibling(FILE + ".tmp");
      Files.write(tmp, bytes);
      try {
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
      }
    }
  }

  private void flushQuietly() {
    long now = System.nanoTime();
    if (now - nextBackgroundWrite < 0) {
      return;
    }
    try {
      flush();
      long took = System.nanoTime() - now;
      nextBackgroundWrite = now + 10 * took;
    } catch (IOException | RuntimeException e) {
      dirty = true;
      log.error("could not write the ledger to {}", file, e);
    }
  }

  @Override
  public void close() throws IOException {
    flush();
  }
}
