package dev.capsulevm.bench;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.InstructionDescriptor;
import dev.capsulevm.pricing.InstructionKind;
import dev.capsulevm.pricing.InstructionPrice;
import dev.capsulevm.pricing.Limits;
import dev.capsulevm.pricing.Meter;
import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.pricing.PricingException;
import dev.capsulevm.pricing.Prices;
import dev.capsulevm.pricing.SignedWithdrawal;
import dev.capsulevm.pricing.Withdrawal;
import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.Signature;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What metering adds to a program: charging one instruction on a {@link Meter}, against the cheapest
 * real instruction's core (a hash-map lookup of a 32-byte key), and what paying adds: verifying a
 * signed withdrawal, against one bare Ed25519 verification.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Thread)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class PricingBenchmark {
  private static final int KEYS = 1 << 16;

  private Meter meter;
  private InstructionDescriptor hasRecord;
  private Map<Hash, Integer> map;
  private Hash[] keys;
  private int next;
  private SignedWithdrawal withdrawal;
  private PublicKey hostKey;
  private Hash tableId;
  private Clock clock;
  private PublicKey accountKey;
  private byte[] body;
  private Signature signature;

  @Setup
  public void setUp() throws Exception {
    SigningKey host = key(1);
    SigningKey account = key(2);
    Map<InstructionKind, InstructionPrice> prices = new EnumMap<>(InstructionKind.class);
    for (InstructionKind kind : InstructionKind.values()) {
      prices.put(kind, InstructionPrice.of(100, 1));
    }
    Instant from = Instant.ofEpochSecond(1_800_000_000L);
    PriceTable table = new PriceTable(host.publicKey(), from, from.plusSeconds(3600),
        new Prices(Amount.of(1000), Amount.of(2), prices, Amount.of(1), Amount.of(2), Amount.of(1), Amount.of(5)),
        new Limits(65_536, 256, 1 << 20, 64, 16, Amount.ofCap(1000)));
    tableId = table.id();
    hostKey = host.publicKey();
    // A budget no benchmark run can exhaust: each charge costs a few hundred units.
    meter = Meter.open(table, tableId, null, Amount.MAX, 200, 10, (amount, programId) -> { }, Clock.systemUTC());
    hasRecord = new InstructionDescriptor(InstructionKind.HAS_RECORD, 32, 1, 0);

    map = new HashMap<>();
    keys = new Hash[KEYS];
    for (int i = 0; i < KEYS; i++) {
      keys[i] = Sha256.hash(Domain.RECORD, ByteBuffer.allocate(4).putInt(i).array());
      map.put(keys[i], i);
    }

    clock = Clock.fixed(from.plusSeconds(10), ZoneOffset.UTC);
    withdrawal = new Withdrawal(account.publicKey(), Amount.of(70_000), 1, from.plusSeconds(600), tableId, hostKey)
        .sign(account);
    accountKey = account.publicKey();
    body = withdrawal.withdrawal().body();
    signature = withdrawal.signature();
  }

  private static SigningKey key(int fill) {
    byte[] seed = new byte[32];
    Arrays.fill(seed, (byte) fill);
    return SigningKey.fromSeed(seed);
  }

  @Benchmark
  public void chargeInstruction() throws PricingException {
    meter.chargeInstruction(hasRecord);
  }

  @Benchmark
  public @Nullable Integer hashMapLookup() {
    next = (next + 1) & (KEYS - 1);
    return map.get(keys[next]);
  }

  @Benchmark
  public Withdrawal verifyWithdrawal() throws PricingException {
    return withdrawal.verify(hostKey, tableId, clock);
  }

  @Benchmark
  public boolean verifyEd25519() {
    return accountKey.verify(Domain.WITHDRAWAL_SIGNATURE, body, signature);
  }
}
