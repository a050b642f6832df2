package dev.capsulevm.pricing;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.merkle.Merkle;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Fixed keys, the worked-example price table and program, and helpers for meters and receipts. Public in
 * pricing's test-jar: program's format examples build on the same keys and table.
 */
public final class Fixtures {
  private Fixtures() {}

  /** The key whose Ed25519 seed is 32 bytes of {@code fill}. */
  public static SigningKey key(int fill) {
    byte[] seed = new byte[32];
    Arrays.fill(seed, (byte) fill);
    return SigningKey.fromSeed(seed);
  }

  /** The host of every example: seed 32 × 0x01. */
  public static final SigningKey HOST = key(0x01);
  /** The paying account of every example: seed 32 × 0x02. */
  public static final SigningKey RENTER = key(0x02);
  public static final SigningKey OTHER = key(0x03);

  public static final Instant VALID_FROM = Instant.ofEpochSecond(1_800_000_000L);
  public static final Instant VALID_UNTIL = VALID_FROM.plusSeconds(3600);
  /** A fixed clock a minute into the example table's window, for receipts' issuedAt. */
  public static final Clock CLOCK = Clock.fixed(VALID_FROM.plusSeconds(60), ZoneOffset.UTC);

  /** The worked example's prices (docs/PROTOCOL.md, "Cost"); METADATA priced like HEADS. */
  public static Prices examplePrices() {
    Map<InstructionKind, InstructionPrice> m = new EnumMap<>(InstructionKind.class);
    m.put(InstructionKind.CREATE_CAPSULE, InstructionPrice.of(5000, 3));
    m.put(InstructionKind.APPEND_RECORD, InstructionPrice.of(2000, 4));
    m.put(InstructionKind.READ_SUB_RECORD, InstructionPrice.of(500, 1));
    m.put(InstructionKind.PROVE, InstructionPrice.of(800, 2));
    m.put(InstructionKind.HAS_RECORD, InstructionPrice.of(100, 1));
    m.put(InstructionKind.READ_BY_HASH, InstructionPrice.of(300, 1));
    m.put(InstructionKind.HEADS, InstructionPrice.of(50, 1));
    m.put(InstructionKind.METADATA, InstructionPrice.of(50, 1));
    return new Prices(Amount.of(1000), Amount.of(2), m, Amount.of(1), Amount.of(2), Amount.of(1), Amount.of(5));
  }

  public static Limits exampleLimits() {
    return new Limits(65_536, 256, 1 << 20, 64, 16, Amount.ofCap(1000));
  }

  /** The example price table: host {@link #HOST}, valid for the hour from {@link #VALID_FROM}. */
  public static PriceTable exampleTable() {
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
    return Sha256.hash(Domain.RECORD, name.getBytes(StandardCharsets.UTF_8));
  }

  /** A stand-in transcript leaf for output {@code index}: the leaf hash of the bytes "output i". */
  static Hash leaf(int index) {
    return Merkle.leafHash(("output " + index).getBytes(StandardCharsets.UTF_8));
  }

  /** The transcript root over {@link #leaf} 0 to {@code count - 1}. */
  static Hash transcriptRoot(int count) {
    List<Hash> leaves = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      leaves.add(leaf(i));
    }
    return Merkle.rootOfLeafHashes(leaves);
  }

  /** Records every refund, so tests can count them. */
  static final class RecordingRefunder implements Refunder {
    final List<Amount> refunds = new CopyOnWriteArrayList<>();
    final List<Hash> programs = new CopyOnWriteArrayList<>();

    @Override
    public void refund(Amount amount, Hash programId) {
      refunds.add(amount);
      programs.add(programId);
    }

    long total() {
      return refunds.stream().mapToLong(Amount::units).sum();
    }
  }
}
