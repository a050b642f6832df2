package dev.capsulevm.vm.exec;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.Meter;
import dev.capsulevm.pricing.Reservation;
import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.pricing.SignedReceipt;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.vm.storage.Batch;
import dev.capsulevm.vm.storage.StorageException;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.ScheduledFuture;
import org.jspecify.annotations.Nullable;

/**
 * A read-write program that ran every instruction and now waits for the renter: {@link #confirm()}
 * commits its staged writes atomically, {@link #refuse()} discards them. Until then the capsule's write
 * permit stays held, so no other read-write program on the capsule runs.
 *
 * <p>Expiry is enforced twice: the executor's scheduler discards the commit at its deadline (which also
 * releases the permit when the renter never answers), and {@link #confirm()} itself checks the clock, so
 * a confirmation that arrives after the deadline is refused even if the timer has not fired yet.
 *
 * <p>Settlement: when the program was run with a payer ({@link Executor#run(dev.capsulevm.program.Program,
 * dev.capsulevm.vm.ProgramData, Meter, Reservation, java.util.function.Consumer)}), {@link #confirm()} stages
 * the program's {@link dev.capsulevm.pricing.Settlement} (its cost, its withdrawal's nonce) in the batch, so
 * the store commits the records and the charge in one transaction, and the meter's refunder is never called
 * ({@link Meter#closeThrough}); once that commit returns, the payer's hold is given back
 * ({@link Reservation#committed()}). If the commit fails, nothing of it is applied, the program counts as
 * failed and its (smaller) charge goes through the meter's refunder. Without a payer the refund goes
 * through the refunder after the commit (a crash between the two keeps the records and loses the refund).
 *
 * <p>Receipt: a committed program's receipt states the proposed heads ({@link #proposedHeads()}); a
 * discarded one states the failure (no instruction, the reason's wire number and the message of the
 * {@link ProgramStoppedException} that {@link #confirm()} throws), unless the meter was failed earlier,
 * for example by the host ending the call for a reason of its own: the first failure is the one the
 * receipt states.
 *
 * <p>Thread-safe: the first of confirm, refuse and expiry wins; later calls change nothing.
 */
public final class PendingCommit implements Outcome {
  private enum State { PENDING, COMMITTED, DISCARDED }

  private final Batch batch;
  private final Meter meter;
  private final Runnable releasePermit;
  private final SigningKey hostKey;
  private final Clock clock;
  private final Instant deadline;
  private final List<Hash> proposedHeads;
  private final Amount costSoFar;
  private final @Nullable Reservation payerOrNull;
  private State state = State.PENDING;
  private ProgramStoppedException.@Nullable Reason discardedAs;
  private String discardMessage = "";
  private @Nullable SignedReceipt receipt;
  private @Nullable ScheduledFuture<?> timer;

  PendingCommit(Batch batch, Meter meter, Runnable releasePermit, SigningKey hostKey, Clock clock,
      Instant deadline, List<Hash> proposedHeads, Amount costSoFar, @Nullable Reservation payerOrNull) {
    this.batch = batch;
    this.meter = meter;
    this.releasePermit = releasePermit;
    this.hostKey = hostKey;
    this.clock = clock;
    this.deadline = deadline;
    this.proposedHeads = List.copyOf(proposedHeads);
    this.costSoFar = costSoFar;
    this.payerOrNull = payerOrNull;
  }

  synchronized void setTimer(ScheduledFuture<?> timer) {
    this.timer = timer;
  }

  /** The program capsule's heads if the commit is confirmed (empty when the program names no capsule). */
  public List<Hash> proposedHeads() {
    return proposedHeads;
  }

  /** What the program has cost so far, storage included. */
  public Amount costSoFar() {
    return costSoFar;
  }

  /** The instant after which the commit is discarded. */
  public Instant deadline() {
    return deadline;
  }

  /** Whether the commit still waits for confirm or refuse. */
  public synchronized boolean isPending() {
    return state == State.PENDING;
  }

  /**
   * Commits the staged writes atomically and closes the meter.
   *
   * @return the program's signed receipt
   * @throws ProgramStoppedException EXPIRED or REFUSED when already discarded (or past the deadline),
   *     STORAGE when storage refuses or fails the batch (nothing is applied, no settlement either; the
   *     program counts as failed and settles, its storage part refunded, through the refunder)
   */
  public synchronized SignedReceipt confirm() throws ProgramStoppedException {
    if (state == State.COMMITTED) {
      return settledReceipt();
    }
    if (state == State.PENDING && clock.instant().isAfter(deadline)) {
      discard(ProgramStoppedException.Reason.EXPIRED, expiredMessage());
    }
    ProgramStoppedException.Reason discarded = discardedAs;
    if (discarded != null) {
      throw new ProgramStoppedException(discarded, ProgramStoppedException.NO_INSTRUCTION, discardMessage,
          receipt, null);
    }
    Receipt settled;
    Reservation payer = payerOrNull;
    try {
      if (payer == null) {
        batch.commit();
        settled = null;
      } else {
        settled = meter.closeThrough(proposedHeads, (refund, programId) -> {
          batch.settle(payer.settlement(refund, programId));
          batch.commit();
        });
      }
    } catch (StorageException | RuntimeException e) {
      // Nothing of the batch was applied (the settlement included); the meter is still open.
      discard(ProgramStoppedException.Reason.STORAGE, "storage refused the commit: " + e.getMessage());
      throw new ProgramStoppedException(ProgramStoppedException.Reason.STORAGE,
          ProgramStoppedException.NO_INSTRUCTION, discardMessage, receipt, e);
    }
    if (payer != null) {
      payer.committed(); // the charge is durable: the hold is given back
    }
    state = State.COMMITTED;
    receipt = (settled != null ? settled : meter.close(proposedHeads)).sign(hostKey);
    finish();
    return receipt;
  }

  /**
   * Discards the staged writes; the program counts as failed, so its storage part is refunded.
   *
   * @return the failed program's signed receipt (the same one every later call returns)
   * @throws IllegalStateException when the commit was already confirmed
   */
  public synchronized SignedReceipt refuse() {
    if (state == State.COMMITTED) {
      throw new IllegalStateException("already committed");
    }
    if (state == State.PENDING) {
      discard(ProgramStoppedException.Reason.REFUSED, "the renter refused the commit; nothing was written");
    }
    return settledReceipt();
  }

  /** Called by the executor's scheduler at the deadline. */
  synchronized void expire() {
    if (state == State.PENDING) {
      discard(ProgramStoppedException.Reason.EXPIRED, expiredMessage());
    }
  }

  private String expiredMessage() {
    return "the commit was already discarded (EXPIRED): not confirmed by its deadline " + deadline
        + "; nothing was written";
  }

  private void discard(ProgramStoppedException.Reason why, String message) {
    state = State.DISCARDED;
    discardedAs = why;
    discardMessage = message;
    batch.abort();
    meter.fail(ProgramStoppedException.NO_INSTRUCTION, why.wireNumber(), message);
    receipt = meter.close().sign(hostKey);
    finish();
  }

  /** The receipt of a commit that is no longer pending. */
  private SignedReceipt settledReceipt() {
    if (receipt == null) {
      throw new IllegalStateException("the commit is still pending");
    }
    return receipt;
  }

  private void finish() {
    if (timer != null) {
      timer.cancel(false);
    }
    releasePermit.run();
  }
}
