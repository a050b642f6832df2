package dev.capsulevm.renter;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.InstructionKind;
import dev.capsulevm.pricing.InstructionPrice;
import dev.capsulevm.pricing.MaxPrices;
import dev.capsulevm.pricing.Prices;
import dev.capsulevm.proofs.crypto.PublicKey;
import io.grpc.ClientInterceptor;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * How a {@link HostClient} behaves.
 *
 * @param maxPrices the most the renter pays for each price; a price table above any is refused
 * @param expectedHostKeyOrNull the host's key if known in advance (null: trust the key the table names)
 * @param clock checks the price table's validity window and sets withdrawal expiries
 * @param withdrawalLifetime how long a withdrawal stays valid (short: the host keeps its nonce until then)
 * @param chunkSize the most program data per request message
 * @param proofCacheCapacity records the shared proof cache keeps
 * @param durationUnits how long storage added by a program is paid for, unless a program says otherwise
 * @param interceptors gRPC interceptors on the host channel (tests use one to tamper with responses)
 * @param appendRetries how many times {@link CapsuleWriter} appends again after an append conflict
 *     (another writer appended first), each time on the heads it then verified
 * @param budgetOrNull the budget of every program {@link HostClient#run(PreparedProgram)} runs, instead of
 *     its estimate (and no retry at the ceiling); null for the estimate
 * @param evidenceDirOrNull where {@link CapsuleReader} and {@link CapsuleWriter} write the evidence of a
 *     rollback they catch ({@link RollbackException}); null to only throw it
 */
public record RenterOptions(MaxPrices maxPrices, @Nullable PublicKey expectedHostKeyOrNull, Clock clock,
    Duration withdrawalLifetime, int chunkSize, int proofCacheCapacity, long durationUnits,
    List<ClientInterceptor> interceptors, int appendRetries, @Nullable Amount budgetOrNull,
    @Nullable Path evidenceDirOrNull) {
  /** {@link #appendRetries()} of {@link #defaults()}. */
  public static final int DEFAULT_APPEND_RETRIES = 3;


  public RenterOptions {
    Objects.requireNonNull(maxPrices, "maxPrices");
    Objects.requireNonNull(clock, "clock");
    Objects.requireNonNull(withdrawalLifetime, "withdrawalLifetime");
    if (chunkSize < 1 || proofCacheCapacity < 1 || durationUnits < 0 || appendRetries < 0) {
      throw new IllegalArgumentException(
          "chunkSize and proofCacheCapacity are positive, durationUnits and appendRetries not negative");
    }
    interceptors = List.copyOf(interceptors);
  }

  /**
   * Ceilings every price a default host charges sits well below: 1 CAP per program or instruction base,
   * 1,000 units per byte, byte-time-unit or byte-duration-unit. A renter with a real budget sets its own.
   */
  public static MaxPrices defaultMaxPrices() {
    Map<InstructionKind, InstructionPrice> instructions = new EnumMap<>(InstructionKind.class);
    for (InstructionKind kind : InstructionKind.values()) {
      instructions.put(kind, InstructionPrice.of(1_000_000, 1_000));
    }
    Amount perByte = Amount.of(1_000);
    return new MaxPrices(new Prices(Amount.of(1_000_000), perByte, instructions, perByte, perByte, perByte, perByte));
  }

  /**
   * The defaults: {@link #defaultMaxPrices()}, system clock, 60 s withdrawals, 64 KiB chunks, 3 append
   * retries.
   */
  public static RenterOptions defaults() {
    return new RenterOptions(defaultMaxPrices(), null, Clock.systemUTC(), Duration.ofSeconds(60), 64 * 1024,
        100_000, 1, List.of(), DEFAULT_APPEND_RETRIES, null, null);
  }

  public RenterOptions withMaxPrices(MaxPrices max) {
    return new RenterOptions(max, expectedHostKeyOrNull, clock, withdrawalLifetime, chunkSize, proofCacheCapacity,
        durationUnits, interceptors, appendRetries, budgetOrNull, evidenceDirOrNull);
  }

  public RenterOptions withInterceptors(List<ClientInterceptor> list) {
    return new RenterOptions(maxPrices, expectedHostKeyOrNull, clock, withdrawalLifetime, chunkSize,
        proofCacheCapacity, durationUnits, list, appendRetries, budgetOrNull, evidenceDirOrNull);
  }

  public RenterOptions withChunkSize(int size) {
    return new RenterOptions(maxPrices, expectedHostKeyOrNull, clock, withdrawalLifetime, size, proofCacheCapacity,
        durationUnits, interceptors, appendRetries, budgetOrNull, evidenceDirOrNull);
  }

  public RenterOptions withExpectedHostKey(PublicKey key) {
    return new RenterOptions(maxPrices, key, clock, withdrawalLifetime, chunkSize, proofCacheCapacity,
        durationUnits, interceptors, appendRetries, budgetOrNull, evidenceDirOrNull);
  }

  public RenterOptions withAppendRetries(int retries) {
    return new RenterOptions(maxPrices, expectedHostKeyOrNull, clock, withdrawalLifetime, chunkSize,
        proofCacheCapacity, durationUnits, interceptors, retries, budgetOrNull, evidenceDirOrNull);
  }

  public RenterOptions withClock(Clock newClock) {
    return new RenterOptions(maxPrices, expectedHostKeyOrNull, newClock, withdrawalLifetime, chunkSize,
        proofCacheCapacity, durationUnits, interceptors, appendRetries, budgetOrNull, evidenceDirOrNull);
  }

  /** Every program run through {@link HostClient#run(PreparedProgram)} is paid with {@code budget}. */
  public RenterOptions withBudget(Amount budget) {
    return new RenterOptions(maxPrices, expectedHostKeyOrNull, clock, withdrawalLifetime, chunkSize,
        proofCacheCapacity, durationUnits, interceptors, appendRetries, budget, evidenceDirOrNull);
  }

  /** Evidence of a rollback is written under {@code dir}. */
  public RenterOptions withEvidenceDirectory(Path dir) {
    return new RenterOptions(maxPrices, expectedHostKeyOrNull, clock, withdrawalLifetime, chunkSize,
        proofCacheCapacity, durationUnits, interceptors, appendRetries, budgetOrNull, dir);
  }
}
