package dev.capsulevm.vm.storage;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.AmountOverflowException;
import dev.capsulevm.proofs.crypto.PublicKey;
import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * What a record's storage was paid with, kept by the host beside a record a renter appended so that,
 * when the record's payloads are dropped under its capsule's retention policy, the storage paid for but
 * not used goes back to the payer (docs/PROTOCOL.md, "Retention and storage charges").
 *
 * @param payer the account the program that appended the record was paid from
 * @param durationUnits how many duration units the program paid storage for (its header's
 *     {@code duration_units})
 * @param pricePerByteUnit the price table's {@code storagePerByteDurationUnit} the program was charged at
 * @param paidAtMillis when the program committed (the host's clock)
 * @param payloadBytes the record's payload bytes: what dropping frees (the header, signature and leaf
 *     hashes stay)
 */
public record StoragePayment(PublicKey payer, long durationUnits, long pricePerByteUnit, long paidAtMillis,
    long payloadBytes) {
  /** The length of {@link #encode()}: payer, then four u64. */
  public static final int LENGTH = PublicKey.LENGTH + 4 * Long.BYTES;

  public StoragePayment {
    Objects.requireNonNull(payer, "payer");
    if (durationUnits < 0 || pricePerByteUnit < 0 || payloadBytes < 0) {
      throw new IllegalArgumentException("duration units, price and bytes are never negative: " + durationUnits
          + ", " + pricePerByteUnit + ", " + payloadBytes);
    }
  }

  /**
   * What goes back to the payer when the payloads are dropped at {@code nowMillis}: the payload bytes'
   * storage for every paid duration unit not yet begun, with duration units of {@code unitMillis}
   * milliseconds counted from {@link #paidAtMillis()}. A unit that has begun counts as used.
   */
  public Amount unusedPart(long nowMillis, long unitMillis) {
    if (unitMillis < 1) {
      throw new IllegalArgumentException("a duration unit lasts at least 1 ms, got " + unitMillis);
    }
    long elapsed = Math.max(0, nowMillis - paidAtMillis);
    long begun = elapsed / unitMillis + (elapsed % unitMillis == 0 ? 0 : 1);
    long unused = Math.max(0, durationUnits - begun);
    try {
      // Never more than the program paid for these bytes, which fitted in an amount.
      return Amount.of(pricePerByteUnit).times(payloadBytes).times(unused);
    } catch (AmountOverflowException e) {
      throw new IllegalStateException("a storage refund larger than any charge: " + e.getMessage(), e);
    }
  }

  /** {@code payer || durationUnits || pricePerByteUnit || paidAtMillis || payloadBytes}, u64 big-endian. */
  public byte[] encode() {
    return ByteBuffer.allocate(LENGTH).put(payer.toByteArray()).putLong(durationUnits).putLong(pricePerByteUnit)
        .putLong(paidAtMillis).putLong(payloadBytes).array();
  }

  /**
   * Parses {@link #encode()}'s bytes.
   *
   * @throws IllegalArgumentException when they are not {@link #LENGTH} bytes or hold a negative field
   */
  public static StoragePayment parse(byte[] bytes) {
    if (bytes.length != LENGTH) {
      throw new IllegalArgumentException("a storage payment is " + LENGTH + " bytes, got " + bytes.length);
    }
    ByteBuffer in = ByteBuffer.wrap(bytes);
    byte[] payer = new byte[PublicKey.LENGTH];
    in.get(payer);
    return new StoragePayment(PublicKey.copyOf(payer), in.getLong(), in.getLong(), in.getLong(), in.getLong());
  }
}
