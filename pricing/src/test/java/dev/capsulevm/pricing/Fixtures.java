package dev.capsulevm.pricing;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.time.Instant;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/** Fixed keys, the worked-example price table and program, and a clock tests can move. */
final class Fixtures {
  private Fixtures() {}

  static SigningKey key(int fill) {
    byte[] seed = new byte[32];
    Arrays.fill(seed, (byte) fill);
    return SigningKey.fromSeed(seed);
  }

  static final SigningKey HOST = key(0x01);
  static final SigningKey RENTER = key(0x02);
  static final SigningKey OTHER = key(0x03);

  static final Instant VALID_FROM = Instant.ofEpochSecond(1_800_000_000L);
  static final Instant VALID_UNTIL = VALID_FROM.plusSeconds(3600);

  static Prices examplePrices() {
    Map<InstructionKind, InstructionPrice> m = new EnumMap<>(InstructionKind.class);
    m.put(InstructionKind.CREATE_CAPSULE, InstructionPrice.of(5000, 3));
    m.put(InstructionKind.APPEND_RECORD, InstructionPrice.of(2000, 4));
    m.put(InstructionKind.READ_SUB_RECORD, InstructionPrice.of(500, 1));
    m.put(InstructionKind.PROVE, InstructionPrice.of(800, 2));
    m.put(InstructionKind.HAS_RECORD, InstructionPrice.of(100, 1));
    m.put(InstructionKind.READ_BY_HASH, InstructionPrice.of(300, 1));
    m.put(InstructionKind.HEADS, InstructionPrice.of(50, 1));
    return new Prices(Amount.of(1000), Amount.of(2), m, Amount.of(1), Amount.of(2), Amount.of(1), Amount.of(5));
  }

  static Limits exampleLimits() {
    return new Limits(65_536, 256, 1 << 20, 64, 16, Amount.ofCap(1000));
  }

  static PriceTable exampleTable() {
    return new PriceTable(HOST.publicKey(), VALID_FROM, VALID_UNTIL, examplePrices(), exampleLimits());
  }

  /** The program of the worked example in docs/PROTOCOL.md. */
  static ProgramShape exampleProgram() {
    return new ProgramShape(200, 1300, 10, List.of(
        new InstructionDescriptor(InstructionKind.APPEND_RECORD, 1000, 100, 1000),
        new InstructionDescriptor(InstructionKind.PROVE, 32, 600, 0),
        new InstructionDescriptor(InstructionKind.HEADS, 0, 64, 0)));
  }

  static Hash programId(String name) {
    return Sha256.hash(Domain.RECORD, name.getBytes(java.nio.charset.StandardCharsets.UTF_8));
  }

  /** Records every refund, so tests can count them. */
  static final class RecordingRefunder implements Refunder {
    final java.util.List<Amount> refunds = new java.util.concurrent.CopyOnWriteArrayList<>();

    @Override
    public void refund(Amount amount) {
      refunds.add(amount);
    }

    long total() {
      return refunds.stream().mapToLong(Amount::units).sum();
    }
  }
}
