package dev.capsulevm.proofs.members;

import dev.capsulevm.proofs.CanonicalReader;
import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.VerificationException.Failure;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.Signature;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.SortedSet;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;

/**
 * A keystore block of a private capsule (docs/FORMAT.md, "Members", "Keystore block"): one epoch's
 * secret wrapped for members, each entry carrying the member's card (its X25519 key signed by its
 * Ed25519 identity). A {@link Type#ROTATE rotate} block starts a new epoch and may carry the previous
 * epochs' secrets sealed under the new one; a {@link Type#FORWARD forward} block wraps an existing epoch
 * for more readers. It follows the description in format-3 metadata (the genesis epoch) and is
 * sub-record 1 of a membership record that changes keys.
 *
 * <p>Everything here is public: hosts read and check blocks (order, lengths, card signatures) without
 * any secret; opening a wrap is the renter's ({@code privacy} package). Immutable; one canonical
 * encoding.
 */
public final class Keystore {
  /** The block version this code reads and writes. */
  public static final int VERSION = 1;
  /** Length of an X25519 public key (a member's card key, an HPKE {@code enc}). */
  public static final int X25519_LENGTH = 32;
  /** Length of an HPKE encapsulated key. */
  public static final int ENC_LENGTH = 32;
  /** Length of a wrapped or sealed 32-byte secret: ciphertext and 16-byte tag. */
  public static final int SEALED_LENGTH = 48;
  /** Length of one entry: ed25519, x25519, card signature, enc, wrapped secret. */
  public static final int ENTRY_LENGTH =
      PublicKey.LENGTH + X25519_LENGTH + Signature.LENGTH + ENC_LENGTH + SEALED_LENGTH;
  /** Length of one previous link: previous epoch key and the sealed previous secret. */
  public static final int LINK_LENGTH = EpochKey.LENGTH + SEALED_LENGTH;
  /** Most previous links a block can carry (the count is one byte). */
  public static final int MAX_PREVIOUS = 0xff;
  /** Most entries a block can carry (the count is two bytes). */
  public static final int MAX_ENTRIES = 0xffff;

  /** What a block does; its code is the type byte. */
  public enum Type {
    /** Starts a new epoch (the epoch key is the new one). */
    ROTATE(1),
    /** Wraps an existing epoch for more readers (the epoch key is the one forwarded). */
    FORWARD(2);

    private final int code;

    Type(int code) {
      this.code = code;
    }

    /** The type byte. */
    public int code() {
      return code;
    }
  }

  /**
   * One member's wrap of the epoch secret.
   *
   * @param member the member's Ed25519 identity
   * @param x25519 the member's X25519 public key (32 bytes), from its card
   * @param cardSignature the card's signature {@code Ed25519-sign(member, 0x51 || member || x25519)}
   * @param enc the HPKE encapsulated key (32 bytes)
   * @param wrapped the epoch secret sealed to {@code x25519} (48 bytes)
   */
  @SuppressWarnings("ArrayRecordComponent") // copied in and out; equals and hashCode compare contents
  public record Entry(PublicKey member, byte[] x25519, Signature cardSignature, byte[] enc, byte[] wrapped) {
    /** @throws IllegalArgumentException when a field has the wrong length */
    public Entry {
      Objects.requireNonNull(member, "member");
      Objects.requireNonNull(cardSignature, "cardSignature");
      x25519 = copy(x25519, X25519_LENGTH, "x25519 key");
      enc = copy(enc, ENC_LENGTH, "enc");
      wrapped = copy(wrapped, SEALED_LENGTH, "wrapped secret");
    }

    @Override
    public byte[] x25519() {
      return x25519.clone();
    }

    @Override
    public byte[] enc() {
      return enc.clone();
    }

    @Override
    public byte[] wrapped() {
      return wrapped.clone();
    }

    /** Whether the card signature is {@code member}'s over {@code 0x51 || member || x25519}. */
    public boolean cardVerifies() {
      byte[] signed = new byte[PublicKey.LENGTH + X25519_LENGTH];
      member.copyTo(signed, 0);
      System.arraycopy(x25519, 0, signed, PublicKey.LENGTH, X25519_LENGTH);
      return member.verify(Domain.MEMBER_CARD_SIGNATURE, signed, cardSignature);
    }

    private void writeTo(ByteBuffer out) {
      out.put(member.toByteArray()).put(x25519).put(cardSignature.toByteArray()).put(enc).put(wrapped);
    }

    @Override
    public boolean equals(@Nullable Object o) {
      return o instanceof Entry other
          && member.equals(other.member)
          && Arrays.equals(x25519, other.x25519)
          && cardSignature.equals(other.cardSignature)
          && Arrays.equals(enc, other.enc)
          && Arrays.equals(wrapped, other.wrapped);
    }

    @Override
    public int hashCode() {
      return 31 * member.hashCode() + Arrays.hashCode(wrapped);
    }

    @Override
    public String toString() {
      return "Keystore.Entry[" + member.toHex() + "]";
    }
  }

  /**
   * A previous epoch's secret sealed under the new epoch's: whoever holds the new secret recovers the
   * previous one.
   *
   * @param epochKey the previous epoch's key
   * @param sealed the previous secret sealed under a key derived from the new secret (48 bytes)
   */
  @SuppressWarnings("ArrayRecordComponent") // copied in and out; equals and hashCode compare contents
  public record PreviousLink(EpochKey epochKey, byte[] sealed) {
    /** @throws IllegalArgumentException when {@code sealed} is not 48 bytes */
    public PreviousLink {
      Objects.requireNonNull(epochKey, "epochKey");
      sealed = copy(sealed, SEALED_LENGTH, "sealed previous secret");
    }

    @Override
    public byte[] sealed() {
      return sealed.clone();
    }

    @Override
    public boolean equals(@Nullable Object o) {
      return o instanceof PreviousLink other && epochKey.equals(other.epochKey) && Arrays.equals(sealed, other.sealed);
    }

    @Override
    public int hashCode() {
      return 31 * epochKey.hashCode() + Arrays.hashCode(sealed);
    }

    @Override
    public String toString() {
      return "Keystore.PreviousLink[" + epochKey.toHex() + "]";
    }
  }

  private final Type type;
  private final EpochKey epochKey;
  private final List<PreviousLink> previous;
  private final List<Entry> entries;
  private final byte[] encoded;

  private Keystore(Type type, EpochKey epochKey, List<PreviousLink> previous, List<Entry> entries) {
    this.type = type;
    this.epochKey = epochKey;
    this.previous = previous;
    this.entries = entries;
    this.encoded = encodeFields();
  }

  /**
   * A rotate block: starts epoch {@code epochKey}, wrapped for {@code entries}, with {@code previous}
   * epochs sealed under it. Both lists are sorted here (links by epoch key, entries by member).
   *
   * @throws IllegalArgumentException when there is no entry, a member or previous epoch repeats, a link
   *     names the new epoch itself, or a list is too long
   */
  public static Keystore rotate(EpochKey epochKey, List<PreviousLink> previous, List<Entry> entries) {
    return create(Type.ROTATE, epochKey, previous, entries);
  }

  /**
   * A forward block: wraps existing epoch {@code epochKey} for {@code entries} (sorted here).
   *
   * @throws IllegalArgumentException when there is no entry, a member repeats, or there are too many
   */
  public static Keystore forward(EpochKey epochKey, List<Entry> entries) {
    return create(Type.FORWARD, epochKey, List.of(), entries);
  }

  private static Keystore create(Type type, EpochKey epochKey, List<PreviousLink> previous, List<Entry> entries) {
    Objects.requireNonNull(type, "type");
    Objects.requireNonNull(epochKey, "epochKey");
    List<PreviousLink> links = new ArrayList<>(previous);
    links.sort(Comparator.comparing(PreviousLink::epochKey));
    List<Entry> sorted = new ArrayList<>(entries);
    sorted.sort(Comparator.comparing(Entry::member));
    String problem = problemOrNull(type, epochKey, links, sorted);
    if (problem != null) {
      throw new IllegalArgumentException(problem);
    }
    return new Keystore(type, epochKey, List.copyOf(links), List.copyOf(sorted));
  }

  /** What breaks the canonical form of these (sorted) fields, or null. */
  private static @Nullable String problemOrNull(
      Type type, EpochKey epochKey, List<PreviousLink> links, List<Entry> entries) {
    if (type == Type.FORWARD && !links.isEmpty()) {
      return "a forward block carries no previous epochs, got " + links.size();
    }
    if (links.size() > MAX_PREVIOUS) {
      return "a keystore block carries at most " + MAX_PREVIOUS + " previous epochs, got " + links.size();
    }
    for (int i = 0; i < links.size(); i++) {
      EpochKey key = links.get(i).epochKey();
      if (key.equals(epochKey)) {
        return "keystore previous epoch " + i + " is the block's own epoch " + epochKey.toHex();
      }
      if (i > 0 && links.get(i - 1).epochKey().compareTo(key) >= 0) {
        return "keystore previous epoch " + i + " (" + key.toHex() + ") is not in ascending order or repeats";
      }
    }
    if (entries.isEmpty() || entries.size() > MAX_ENTRIES) {
      return "a keystore block carries 1 to " + MAX_ENTRIES + " entries, got " + entries.size();
    }
    for (int i = 1; i < entries.size(); i++) {
      if (entries.get(i - 1).member().compareTo(entries.get(i).member()) >= 0) {
        return "keystore entry " + i + " (member " + entries.get(i).member().toHex()
            + ") is not in ascending order or repeats";
      }
    }
    return null;
  }

  /**
   * Parses a whole keystore block, refusing every other form.
   *
   * @throws VerificationException {@link Failure#MALFORMED_ENCODING} naming the field
   */
  public static Keystore parse(byte[] block) throws VerificationException {
    Objects.requireNonNull(block, "block");
    CanonicalReader in = new CanonicalReader(block, "keystore block");
    Keystore keystore = read(in);
    in.end();
    return keystore;
  }

  /**
   * Reads one keystore block from {@code in} (for the metadata, where it follows the description).
   *
   * @throws VerificationException {@link Failure#MALFORMED_ENCODING} naming the field
   */
  public static Keystore read(CanonicalReader in) throws VerificationException {
    int version = in.u8("keystore version");
    if (version != VERSION) {
      throw malformed("unknown keystore block version " + version + " (expected 1)");
    }
    int typeCode = in.u8("keystore type");
    Type type = typeCode == Type.ROTATE.code ? Type.ROTATE : typeCode == Type.FORWARD.code ? Type.FORWARD : null;
    if (type == null) {
      throw malformed("unknown keystore block type " + typeCode + " (expected 1 rotate or 2 forward)");
    }
    EpochKey epochKey = EpochKey.copyOf(in.bytes(EpochKey.LENGTH, "keystore epoch key"));
    int linkCount = in.u8("keystore previous count");
    if (type == Type.FORWARD && linkCount != 0) {
      throw malformed("a forward block carries no previous epochs, got a previous count of " + linkCount);
    }
    List<PreviousLink> links = new ArrayList<>(linkCount);
    for (int i = 0; i < linkCount; i++) {
      EpochKey key = EpochKey.copyOf(in.bytes(EpochKey.LENGTH, "keystore previous epoch " + i));
      links.add(new PreviousLink(key, in.bytes(SEALED_LENGTH, "keystore previous secret " + i)));
    }
    int entryCount = in.u16("keystore entry count");
    List<Entry> entries = new ArrayList<>(entryCount);
    for (int i = 0; i < entryCount; i++) {
      PublicKey member = in.publicKey("keystore entry " + i + " member");
      byte[] x25519 = in.bytes(X25519_LENGTH, "keystore entry " + i + " x25519 key");
      Signature card = in.signature("keystore entry " + i + " card signature");
      byte[] enc = in.bytes(ENC_LENGTH, "keystore entry " + i + " enc");
      byte[] wrapped = in.bytes(SEALED_LENGTH, "keystore entry " + i + " wrapped secret");
      entries.add(new Entry(member, x25519, card, enc, wrapped));
    }
    String problem = problemOrNull(type, epochKey, links, entries);
    if (problem != null) {
      throw malformed(problem);
    }
    return new Keystore(type, epochKey, List.copyOf(links), List.copyOf(entries));
  }

  private static VerificationException malformed(String message) {
    return new VerificationException(Failure.MALFORMED_ENCODING, message);
  }

  private byte[] encodeFields() {
    ByteBuffer out = ByteBuffer.allocate(
        1 + 1 + EpochKey.LENGTH + 1 + LINK_LENGTH * previous.size() + 2 + ENTRY_LENGTH * entries.size());
    out.put((byte) VERSION).put((byte) type.code).put(epochKey.toByteArray()).put((byte) previous.size());
    for (PreviousLink link : previous) {
      out.put(link.epochKey().toByteArray()).put(link.sealed);
    }
    out.putShort((short) entries.size());
    for (Entry entry : entries) {
      entry.writeTo(out);
    }
    return out.array();
  }

  /**
   * Checks every entry's card signature.
   *
   * @throws VerificationException {@link Failure#BAD_KEYSTORE} naming the first entry whose card does not
   *     verify
   */
  public void verifyCards() throws VerificationException {
    for (int i = 0; i < entries.size(); i++) {
      Entry entry = entries.get(i);
      if (!entry.cardVerifies()) {
        throw new VerificationException(
            Failure.BAD_KEYSTORE,
            "keystore entry " + i + " for member " + entry.member().toHex()
                + ": the card signature does not verify (its x25519 key is not bound to that member)");
      }
    }
  }

  /** The canonical bytes (a copy). */
  public byte[] encode() {
    return encoded.clone();
  }

  /** The canonical length in bytes. */
  public int encodedLength() {
    return encoded.length;
  }

  public Type type() {
    return type;
  }

  /** Rotate: the new epoch's key; forward: the key of the epoch forwarded. */
  public EpochKey epochKey() {
    return epochKey;
  }

  /** The previous epochs sealed under this one, ascending by epoch key; empty for a forward block. */
  public List<PreviousLink> previous() {
    return previous;
  }

  /** The wraps, ascending by member key; at least one. */
  public List<Entry> entries() {
    return entries;
  }

  /** The members the block wraps the epoch for, ascending. */
  public SortedSet<PublicKey> members() {
    TreeSet<PublicKey> members = new TreeSet<>();
    entries.forEach(entry -> members.add(entry.member()));
    return Collections.unmodifiableSortedSet(members);
  }

  /** {@code member}'s entry, or null when the block has none for it. */
  public @Nullable Entry entryOrNull(PublicKey member) {
    Objects.requireNonNull(member, "member");
    for (Entry entry : entries) {
      if (entry.member().equals(member)) {
        return entry;
      }
    }
    return null;
  }

  private static byte[] copy(byte[] bytes, int length, String what) {
    Objects.requireNonNull(bytes, what);
    if (bytes.length != length) {
      throw new IllegalArgumentException("a " + what + " is " + length + " bytes, got " + bytes.length);
    }
    return bytes.clone();
  }

  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof Keystore other && Arrays.equals(encoded, other.encoded);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(encoded);
  }

  @Override
  public String toString() {
    return "Keystore[" + type.name().toLowerCase(java.util.Locale.ROOT) + " " + epochKey.toHex()
        + ", previous=" + previous.size() + ", entries=" + entries.size() + "]";
  }
}
