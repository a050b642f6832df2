package dev.capsulevm.pricing;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.EnumMap;
import java.util.Map;
import java.util.Objects;

/**
 * A host's prices and limits for a validity window {@code [validFrom, validUntil)}, identified by the
 * hash of its canonical body (layout in docs/FORMAT.md, section "Pricing objects").
 */
public record PriceTable(
    PublicKey hostKey, Instant validFrom, Instant validUntil, Prices prices, Limits limits) {

  /** Version 2 added the METADATA instruction's prices (after HEADS, in instruction code order). */
  static final int VERSION = 2;
  /** The length of the canonical body. */
  public static final int BODY_LENGTH =
      1 + PublicKey.LENGTH + 8 + 8 + 8 + 8 + InstructionKind.values().length * 16 + 4 * 8 + 5 * 4 + 8;

  public PriceTable {
    Objects.requireNonNull(hostKey, "hostKey");
    Objects.requireNonNull(validFrom, "validFrom");
    Objects.requireNonNull(validUntil, "validUntil");
    Objects.requireNonNull(prices, "prices");
    Objects.requireNonNull(limits, "limits");
    wholeSeconds("validFrom", validFrom);
    wholeSeconds("validUntil", validUntil);
    if (!validFrom.isBefore(validUntil)) {
      throw new IllegalArgumentException("validFrom " + validFrom + " is not before validUntil " + validUntil);
    }
  }

  static void wholeSeconds(String field, Instant instant) {
    if (instant.getNano() != 0 || instant.getEpochSecond() < 0) {
      throw new IllegalArgumentException(field + " is whole seconds since 1970, got " + instant);
    }
  }

  /** The canonical body: the bytes the id hashes and the host signs. */
  public byte[] body() {
    ByteBuffer out = ByteBuffer.allocate(BODY_LENGTH);
    out.put((byte) VERSION);
    Codec.putKey(out, hostKey);
    Codec.putSeconds(out, validFrom);
    Codec.putSeconds(out, validUntil);
    Codec.putAmount(out, prices.programBase());
    Codec.putAmount(out, prices.programPerByte());
    for (InstructionKind kind : InstructionKind.values()) {
      InstructionPrice p = prices.instruction(kind);
      Codec.putAmount(out, p.base());
      Codec.putAmount(out, p.perByte());
    }
    Codec.putAmount(out, prices.uploadPerByte());
    Codec.putAmount(out, prices.downloadPerByte());
    Codec.putAmount(out, prices.memoryPerByteTimeUnit());
    Codec.putAmount(out, prices.storagePerByteDurationUnit());
    out.putInt(limits.maxProgramBytes());
    out.putInt(limits.maxInstructions());
    out.putInt(limits.maxRecordBytes());
    out.putInt(limits.maxSubRecordsPerRecord());
    out.putInt(limits.maxConcurrentPrograms());
    Codec.putAmount(out, limits.maxBalance());
    return out.array();
  }

  /** The id: {@code SHA-256(0x33 || body)}. */
  public Hash id() {
    return Sha256.hash(Domain.PRICE_TABLE_ID, body());
  }

  /** Signs the body with the host's key, which must be {@link #hostKey()}. */
  public SignedPriceTable sign(SigningKey hostSigningKey) {
    if (!hostSigningKey.publicKey().equals(hostKey)) {
      throw new IllegalArgumentException("the price table names host " + hostKey + ", not the signer");
    }
    return new SignedPriceTable(this, hostSigningKey.sign(Domain.PRICE_TABLE_SIGNATURE, body()));
  }

  /** Parses exactly one canonical body. */
  public static PriceTable parseBody(byte[] body) throws VerificationException {
    Codec.Reader in = new Codec.Reader(body, BODY_LENGTH, "price table body");
    in.version(VERSION);
    PublicKey host = in.key("hostKey");
    Instant from = in.seconds("validFrom");
    Instant until = in.seconds("validUntil");
    Amount programBase = in.amount("programBase");
    Amount programPerByte = in.amount("programPerByte");
    Map<InstructionKind, InstructionPrice> instructions = new EnumMap<>(InstructionKind.class);
    for (InstructionKind kind : InstructionKind.values()) {
      instructions.put(kind, new InstructionPrice(in.amount(kind + ".base"), in.amount(kind + ".perByte")));
    }
    Amount up = in.amount("uploadPerByte");
    Amount down = in.amount("downloadPerByte");
    Amount memory = in.amount("memoryPerByteTimeUnit");
    Amount storage = in.amount("storagePerByteDurationUnit");
    int maxProgramBytes = in.nonNegativeInt("maxProgramBytes");
    int maxInstructions = in.nonNegativeInt("maxInstructions");
    int maxRecordBytes = in.nonNegativeInt("maxRecordBytes");
    int maxSubRecords = in.nonNegativeInt("maxSubRecordsPerRecord");
    int maxConcurrent = in.nonNegativeInt("maxConcurrentPrograms");
    Amount maxBalance = in.amount("maxBalance");
    in.finish();
    try {
      return new PriceTable(host, from, until,
          new Prices(programBase, programPerByte, instructions, up, down, memory, storage),
          new Limits(maxProgramBytes, maxInstructions, maxRecordBytes, maxSubRecords, maxConcurrent, maxBalance));
    } catch (IllegalArgumentException e) {
      throw Codec.malformed("price table body: " + e.getMessage());
    }
  }
}
