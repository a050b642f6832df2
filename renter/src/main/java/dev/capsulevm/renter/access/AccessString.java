package dev.capsulevm.renter.access;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import org.bouncycastle.crypto.InvalidCipherTextException;
import org.bouncycastle.crypto.hpke.HPKE;
import org.bouncycastle.crypto.hpke.HPKEContext;
import org.bouncycastle.crypto.hpke.HPKEContextWithEncapsulation;
import org.jspecify.annotations.Nullable;

/**
 * What a new member needs to open a capsule: the hosts that hold it (1 to 16, tried in order), its id
 * and its creator's key (docs/FORMAT.md, "Access strings and member cards").
 *
 * <p>Plain form: {@code cvm-access1:} then base64url without padding of {@code body || checksum}, the
 * checksum being the first 4 bytes of {@code H(0x50 || body)}: it catches a string damaged in transit,
 * not a forged one. A forged string cannot do harm beyond naming the wrong capsule: the capsule id is
 * the hash of the signed metadata, so what a host serves for it is checked ({@link #check}).
 *
 * <p>Sealed form ({@link #seal}): {@code cvm-sealed1:} then base64url of {@code 0x01 || recipient
 * ed25519 pub (32) || enc (32) || ciphertext}, HPKE (RFC 9180) base mode with DHKEM(X25519, HKDF-SHA256),
 * HKDF-SHA256 and ChaCha20-Poly1305, info {@code "capsulevm/access/v1"}, aad {@code recipient ed25519 pub
 * || recipient x25519 pub}, the plaintext being the plain form's bytes. Only the member whose card it was
 * sealed to can read the hosts, so the string can travel by email. Immutable.
 */
public final class AccessString {
  /** The prefix of the plain form. */
  public static final String PREFIX = "cvm-access1:";
  /** The prefix of the sealed form. */
  public static final String SEALED_PREFIX = "cvm-sealed1:";
  /** The body's version byte, and the sealed form's. */
  public static final int VERSION = 1;
  /** The most hosts a string may list. */
  public static final int MAX_HOSTS = 16;
  /** The longest "host:port", in UTF-8 bytes (its length is one byte). */
  public static final int MAX_HOST_BYTES = 255;
  /** The checksum's length. */
  public static final int CHECKSUM_LENGTH = 4;

  /** HPKE's info parameter for sealed strings, 19 ASCII bytes. */
  static final byte[] HPKE_INFO = "capsulevm/access/v1".getBytes(StandardCharsets.US_ASCII);
  /** version, capsule id, creator, host count. */
  private static final int FIXED_BODY = 1 + Hash.LENGTH + PublicKey.LENGTH + 1;
  /** version, recipient, enc. */
  private static final int SEALED_HEADER = 1 + PublicKey.LENGTH + EncryptionKey.LENGTH;
  private static final int AEAD_TAG = 16;

  private final List<String> hosts;
  private final Hash capsuleId;
  private final PublicKey creator;

  private AccessString(List<String> hosts, Hash capsuleId, PublicKey creator) {
    this.hosts = hosts;
    this.capsuleId = capsuleId;
    this.creator = creator;
  }

  /**
   * The string for capsule {@code capsuleId} created by {@code creator}, held by {@code hosts}.
   *
   * @throws IllegalArgumentException if there are no hosts or more than 16, or one is not "host:port"
   */
  public static AccessString of(List<String> hosts, Hash capsuleId, PublicKey creator) {
    Objects.requireNonNull(capsuleId, "capsuleId");
    Objects.requireNonNull(creator, "creator");
    String problem = hostsProblem(hosts);
    if (problem != null) {
      throw new IllegalArgumentException(problem);
    }
    return new AccessString(List.copyOf(hosts), capsuleId, creator);
  }

  public List<String> hosts() {
    return hosts;
  }

  public Hash capsuleId() {
    return capsuleId;
  }

  public PublicKey creator() {
    return creator;
  }

  /** The body: {@code 0x01 || capsule id || creator || u8 H || H x (u8 length || UTF-8 "host:port")}. */
  public byte[] body() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(VERSION);
    out.writeBytes(capsuleId.toByteArray());
    out.writeBytes(creator.toByteArray());
    out.write(hosts.size());
    for (String host : hosts) {
      byte[] utf8 = host.getBytes(StandardCharsets.UTF_8);
      out.write(utf8.length);
      out.writeBytes(utf8);
    }
    return out.toByteArray();
  }

  /** {@code body || checksum}: the bytes of the plain form, and the plaintext of the sealed one. */
  public byte[] encoded() {
    byte[] body = body();
    byte[] out = Arrays.copyOf(body, body.length + CHECKSUM_LENGTH);
    System.arraycopy(checksum(body), 0, out, body.length, CHECKSUM_LENGTH);
    return out;
  }

  /** The first 4 bytes of {@code H(0x50 || body)}. */
  static byte[] checksum(byte[] body) {
    return Arrays.copyOf(Sha256.hash(Domain.ACCESS_CHECKSUM, body).toByteArray(), CHECKSUM_LENGTH);
  }

  /** Whether {@code text} is in the sealed form (by its prefix; nothing else is checked). */
  public static boolean isSealed(String text) {
    return text.strip().startsWith(SEALED_PREFIX);
  }

  /**
   * Parses a plain string (surrounding and embedded whitespace, as mail wrapping leaves it, is ignored).
   *
   * @throws AccessException naming what is wrong: "access string is truncated", "access string is damaged
   *     (checksum)", an unknown prefix or version, a sealed string (use {@link #open}), bad hosts
   */
  public static AccessString parse(String text) throws AccessException {
    String compact = compact(text);
    if (compact.startsWith(SEALED_PREFIX)) {
      throw new AccessException("this access string is sealed to a member: open it with that member's keys");
    }
    if (!compact.startsWith(PREFIX)) {
      throw new AccessException(compact.startsWith("cvm-access") || compact.startsWith("cvm-sealed")
          ? "unknown access string version (this version reads " + PREFIX + " and " + SEALED_PREFIX + ")"
          : "not an access string: it must start with " + PREFIX + " or " + SEALED_PREFIX);
    }
    byte[] bytes = Text.decode("access string", PREFIX, compact);
    AccessString access = decode(bytes);
    Text.requireCanonical("access string", PREFIX, compact, bytes);
    return access;
  }

  /**
   * Reads a string of either form: a plain one is {@linkplain #parse parsed}; a sealed one must be sealed
   * to {@code identity}'s card and decrypt with {@code key}.
   *
   * @throws AccessException as {@link #parse} does, and "sealed to member KEY, not to you" when it was
   *     sealed to another member, or "damaged" when it does not decrypt
   */
  public static AccessString open(String text, SigningKey identity, EncryptionKey key) throws AccessException {
    String compact = compact(text);
    if (!compact.startsWith(SEALED_PREFIX)) {
      return parse(compact);
    }
    byte[] bytes = Text.decode("sealed access string", SEALED_PREFIX, compact);
    if (bytes.length >= 1 && (bytes[0] & 0xff) != VERSION) {
      throw new AccessException("unknown sealed access string version " + (bytes[0] & 0xff));
    }
    if (bytes.length < SEALED_HEADER + AEAD_TAG + FIXED_BODY + CHECKSUM_LENGTH) {
      throw new AccessException("sealed access string is truncated");
    }
    byte[] recipient = Arrays.copyOfRange(bytes, 1, 1 + PublicKey.LENGTH);
    if (!MessageDigest.isEqual(recipient, identity.publicKey().toByteArray())) {
      throw new AccessException("sealed to member " + HexFormat.of().formatHex(recipient) + ", not to you ("
          + identity.publicKey().toHex() + ")");
    }
    byte[] enc = Arrays.copyOfRange(bytes, 1 + PublicKey.LENGTH, SEALED_HEADER);
    byte[] plaintext;
    try {
      HPKEContext context = hpke().setupBaseR(enc, key.keyPair(), HPKE_INFO);
      plaintext = context.open(aad(identity.publicKey(), key.publicKey()), bytes, SEALED_HEADER,
          bytes.length - SEALED_HEADER);
    } catch (InvalidCipherTextException | RuntimeException e) {
      throw new AccessException("sealed access string is damaged: it does not decrypt with your encryption key"
          + " (changed in transit, or sealed to another card of yours)", e);
    }
    AccessString access = decode(plaintext);
    Text.requireCanonical("sealed access string", SEALED_PREFIX, compact, bytes);
    return access;
  }

  /** This string sealed to {@code recipient}'s card, with a fresh ephemeral key. */
  public String seal(MemberCard recipient) {
    return seal(recipient, null);
  }

  /** Sealed with {@code ephemeralOrNull} as the sender's ephemeral key: for the fixed worked example only. */
  String seal(MemberCard recipient, @Nullable EncryptionKey ephemeralOrNull) {
    byte[] x25519 = recipient.encryptionKey();
    HPKE hpke = hpke();
    HPKEContextWithEncapsulation context;
    byte[] ciphertext;
    try {
      context = ephemeralOrNull == null
          ? hpke.setupBaseS(hpke.deserializePublicKey(x25519), HPKE_INFO)
          : hpke.setupBaseS(hpke.deserializePublicKey(x25519), HPKE_INFO, ephemeralOrNull.keyPair());
      ciphertext = context.seal(aad(recipient.identity(), x25519), encoded());
    } catch (InvalidCipherTextException | RuntimeException e) {
      // An X25519 key of small order gives an all-zero shared secret, which HPKE refuses.
      throw new IllegalArgumentException("the member card's encryption key cannot be sealed to: " + e.getMessage(), e);
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(VERSION);
    out.writeBytes(recipient.identity().toByteArray());
    out.writeBytes(context.getEncapsulation());
    out.writeBytes(ciphertext);
    return Text.encode(SEALED_PREFIX, out.toByteArray());
  }

  /**
   * Checks the metadata a host served for this string: it must be this capsule's (its hash is the id) and
   * its creator this string's creator.
   *
   * @throws AccessException naming the mismatch
   */
  public void check(SignedMetadata metadata) throws AccessException {
    if (!metadata.capsuleId().equals(capsuleId)) {
      throw new AccessException("the metadata served is of capsule " + metadata.capsuleId().toHex()
          + ", not of the access string's capsule " + capsuleId.toHex());
    }
    PublicKey actual = metadata.metadata().creator();
    if (!actual.equals(creator)) {
      throw new AccessException("capsule " + capsuleId.toHex() + " was created by " + actual.toHex()
          + ", not by the access string's creator " + creator.toHex() + " (a wrong or altered access string)");
    }
  }

  static HPKE hpke() {
    return new HPKE(HPKE.mode_base, HPKE.kem_X25519_SHA256, HPKE.kdf_HKDF_SHA256, HPKE.aead_CHACHA20_POLY1305);
  }

  /** {@code recipient ed25519 pub || recipient x25519 pub}: binds the ciphertext to the whole card. */
  private static byte[] aad(PublicKey identity, byte[] x25519) {
    byte[] aad = new byte[PublicKey.LENGTH + EncryptionKey.LENGTH];
    identity.copyTo(aad, 0);
    System.arraycopy(x25519, 0, aad, PublicKey.LENGTH, EncryptionKey.LENGTH);
    return aad;
  }

  private static String compact(String text) {
    return Objects.requireNonNull(text, "text").replaceAll("\\s+", "");
  }

  /**
   * Decodes {@code body || checksum}. The layout is walked first, so that a string cut short is called
   * truncated; then the checksum, so that any damage is called damaged; only then the contents.
   */
  private static AccessString decode(byte[] bytes) throws AccessException {
    if (bytes.length < FIXED_BODY) {
      throw new AccessException("access string is truncated");
    }
    int end = FIXED_BODY;
    int count = bytes[FIXED_BODY - 1] & 0xff;
    for (int i = 0; i < count; i++) {
      if (end >= bytes.length) {
        throw new AccessException("access string is truncated");
      }
      end += 1 + (bytes[end] & 0xff);
    }
    if (end + CHECKSUM_LENGTH > bytes.length) {
      throw new AccessException("access string is truncated");
    }
    byte[] body = Arrays.copyOf(bytes, end);
    if (!MessageDigest.isEqual(checksum(body), Arrays.copyOfRange(bytes, end, end + CHECKSUM_LENGTH))) {
      throw new AccessException("access string is damaged (checksum)");
    }
    if (end + CHECKSUM_LENGTH != bytes.length) {
      throw new AccessException("access string is damaged (" + (bytes.length - end - CHECKSUM_LENGTH)
          + " bytes after the checksum)");
    }
    if ((bytes[0] & 0xff) != VERSION) {
      throw new AccessException("unknown access string version " + (bytes[0] & 0xff));
    }
    Hash capsule = Hash.copyOf(bytes, 1, Hash.LENGTH);
    PublicKey creator;
    try {
      creator = PublicKey.copyOf(bytes, 1 + Hash.LENGTH, PublicKey.LENGTH);
    } catch (IllegalArgumentException e) {
      throw new AccessException("access string's creator is not an Ed25519 public key", e);
    }
    List<String> hosts = new ArrayList<>();
    int at = FIXED_BODY;
    for (int i = 0; i < count; i++) {
      int length = bytes[at] & 0xff;
      try {
        hosts.add(StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes, at + 1, length)).toString());
      } catch (CharacterCodingException e) {
        throw new AccessException("access string's host " + (i + 1) + " is not UTF-8", e);
      }
      at += 1 + length;
    }
    String problem = hostsProblem(hosts);
    if (problem != null) {
      throw new AccessException("access string: " + problem);
    }
    return new AccessString(List.copyOf(hosts), capsule, creator);
  }

  /** What is wrong with {@code hosts}, or null. */
  private static @Nullable String hostsProblem(List<String> hosts) {
    if (hosts.isEmpty() || hosts.size() > MAX_HOSTS) {
      return "an access string lists 1 to " + MAX_HOSTS + " hosts, not " + hosts.size();
    }
    for (String host : hosts) {
      String problem = hostProblem(Objects.requireNonNull(host, "host"));
      if (problem != null) {
        return "host '" + host + "' " + problem;
      }
    }
    return null;
  }

  private static @Nullable String hostProblem(String host) {
    int bytes = host.getBytes(StandardCharsets.UTF_8).length;
    if (bytes > MAX_HOST_BYTES) {
      return "is longer than " + MAX_HOST_BYTES + " bytes";
    }
    int colon = host.lastIndexOf(':');
    if (colon <= 0) {
      return "is not host:port";
    }
    String name = host.substring(0, colon);
    String port = host.substring(colon + 1);
    if (!port.matches("[1-9][0-9]{0,4}") || Integer.parseInt(port) > 65535) {
      return "has no port from 1 to 65535";
    }
    if (name.codePoints().anyMatch(c -> Character.isWhitespace(c) || Character.isISOControl(c) || c == '/')) {
      return "has a space, control character or slash in its name";
    }
    boolean bracketed = name.startsWith("[") && name.endsWith("]") && name.length() > 2;
    if (name.contains(":") && !bracketed) {
      return "is an IPv6 address without brackets (write [address]:port)";
    }
    return null;
  }

  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof AccessString other && hosts.equals(other.hosts) && capsuleId.equals(other.capsuleId)
        && creator.equals(other.creator);
  }

  @Override
  public int hashCode() {
    return Objects.hash(hosts, capsuleId, creator);
  }

  /** The plain form, {@code cvm-access1:...}. */
  @Override
  public String toString() {
    return Text.encode(PREFIX, encoded());
  }
}
