package dev.capsulevm.bench;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.Signature;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.members.Keystore;
import dev.capsulevm.proofs.merkle.Merkle;
import dev.capsulevm.proofs.privacy.DecryptionException;
import dev.capsulevm.proofs.privacy.EpochSecret;
import dev.capsulevm.proofs.privacy.RecordCipher;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.bouncycastle.crypto.params.X25519PrivateKeyParameters;
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
 * What encrypting a private capsule's payloads costs the renter, against the hashing every record's payloads
 * get anyway, in one run: a 1 KiB sub-record sealed and opened (ChaCha20-Poly1305) against its Merkle leaf
 * hash; a record's set-up (a fresh HPKE encapsulation and export for the writer, decapsulation and export
 * for the reader); a whole record of 64 x 1 KiB sealed or opened with its Merkle root against the root of
 * the plain record; and wrapping and unwrapping an epoch secret for one member.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms512m", "-Xmx512m"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@State(Scope.Thread)
public class PrivacyBenchmark {
  static final int SUB_RECORD = 1024;
  static final int SUB_RECORDS = 64;
  static final long HEIGHT = 42;

  private final SecureRandom random = new SecureRandom();
  private Hash capsule;
  private PublicKey writer;
  private EpochSecret epoch;
  private byte[] plaintext;
  private byte[] payload;
  private List<byte[]> plaintexts;
  private byte[] enc;
  private List<byte[]> payloads;
  private RecordCipher writing;
  private RecordCipher reading;
  private X25519PrivateKeyParameters memberKey;
  private byte[] memberX25519;
  private Signature card;
  private Keystore.Entry entry;

  @Setup
  public void setup() throws DecryptionException {
    SplittableRandom fill = new SplittableRandom(8439);
    byte[] id = new byte[Hash.LENGTH];
    fill.nextBytes(id);
    capsule = Hash.copyOf(id);
    byte[] seed = new byte[SigningKey.SEED_LENGTH];
    fill.nextBytes(seed);
    SigningKey identity = SigningKey.fromSeed(seed);
    writer = identity.publicKey();
    epoch = EpochSecret.generate(random);
    plaintext = new byte[SUB_RECORD];
    fill.nextBytes(plaintext);
    plaintexts = new ArrayList<>();
    for (int i = 0; i < SUB_RECORDS; i++) {
      byte[] p = new byte[SUB_RECORD];
      fill.nextBytes(p);
      plaintexts.add(p);
    }
    writing = RecordCipher.forWriter(epoch.epochKey(), capsule, writer, HEIGHT, random);
    enc = writing.enc();
    payload = writing.seal(0, plaintext);
    payloads = new ArrayList<>();
    for (int i = 0; i < SUB_RECORDS; i++) {
      payloads.add(writing.seal(i, plaintexts.get(i)));
    }
    reading = RecordCipher.forReader(epoch, enc, capsule, writer, HEIGHT);
    if (!java.util.Arrays.equals(plaintext, reading.open(0, payload))) {
      throw new IllegalStateException("the prepared payload does not open");
    }
    byte[] x = new byte[32];
    fill.nextBytes(x);
    memberKey = new X25519PrivateKeyParameters(x, 0);
    memberX25519 = memberKey.generatePublicKey().getEncoded();
    byte[] signed = new byte[64];
    writer.copyTo(signed, 0);
    System.arraycopy(memberX25519, 0, signed, 32, 32);
    card = identity.sign(Domain.MEMBER_CARD_SIGNATURE, signed);
    entry = epoch.wrapFor(writer, memberX25519, card);
  }

  /** The plain baseline of one sub-record: its Merkle leaf hash. */
  @Benchmark
  public Hash plainLeafHash1KiB() {
    return Merkle.leafHash(plaintext);
  }

  @Benchmark
  public byte[] seal1KiB() {
    return writing.seal(0, plaintext);
  }

  @Benchmark
  public byte[] open1KiB() throws DecryptionException {
    return reading.open(0, payload);
  }

  /** A record's writer set-up: an ephemeral X25519 key, one DH, the HPKE key schedule and the data key. */
  @Benchmark
  public RecordCipher writerSetup() {
    return RecordCipher.forWriter(epoch.epochKey(), capsule, writer, HEIGHT, random);
  }

  /** A record's reader set-up: one DH, the key schedule and the data key. */
  @Benchmark
  public RecordCipher readerSetup() throws DecryptionException {
    return RecordCipher.forReader(epoch, enc, capsule, writer, HEIGHT);
  }

  /** The plain baseline of a record: the Merkle root of its 64 sub-records. */
  @Benchmark
  public Hash plainRecord64x1KiB() {
    return Merkle.root(plaintexts);
  }

  /** A private record written: set-up, 64 seals, and the Merkle root of the payloads. */
  @Benchmark
  public Hash sealedRecord64x1KiB() {
    RecordCipher cipher = RecordCipher.forWriter(epoch.epochKey(), capsule, writer, HEIGHT, random);
    List<byte[]> sealed = new ArrayList<>(SUB_RECORDS);
    for (int i = 0; i < SUB_RECORDS; i++) {
      sealed.add(cipher.seal(i, plaintexts.get(i)));
    }
    return Merkle.root(sealed);
  }

  /** A private record read: the Merkle root of the stored payloads, set-up, and 64 opens. */
  @Benchmark
  public int openedRecord64x1KiB() throws DecryptionException {
    Hash root = Merkle.root(payloads);
    RecordCipher cipher = RecordCipher.forReader(epoch, enc, capsule, writer, HEIGHT);
    int total = root.byteAt(0);
    for (int i = 0; i < SUB_RECORDS; i++) {
      total += cipher.open(i, payloads.get(i)).length;
    }
    return total;
  }

  /** Per member and epoch: the secret wrapped for one member card (what adding a reader costs per reader). */
  @Benchmark
  public Keystore.Entry wrap() {
    return epoch.wrapFor(writer, memberX25519, card);
  }

  /** Per epoch: a reader opening its keystore entry, with the derive check. */
  @Benchmark
  public EpochSecret unwrap() throws DecryptionException {
    return EpochSecret.unwrap(entry, epoch.epochKey(), memberKey);
  }
}
