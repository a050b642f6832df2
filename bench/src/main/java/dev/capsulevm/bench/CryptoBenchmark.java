package dev.capsulevm.bench;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.Signature;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.security.InvalidKeyException;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.bouncycastle.crypto.digests.SHA256Digest;
import org.bouncycastle.crypto.macs.HMac;
import org.bouncycastle.crypto.params.KeyParameter;
import org.bouncycastle.math.ec.rfc8032.Ed25519;
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
 * Ed25519 (Bouncy Castle, RFC 8032) signing and verification of a 33-byte message: {@code verify33} as
 * {@link PublicKey} verifies (the key's point decoded once, when the key was made), {@code
 * verify33DecodingKey} through Bouncy Castle's byte-array API, which decodes the key on every call. And
 * HMAC-SHA256 of a 200-byte message (about a ticket's or a receipt body's size) under a 32-byte session
 * key, keyed anew per MAC as a session key's MACs are: {@code hmac200Jdk} with the JDK's {@code Mac} (what
 * {@code pricing.SessionKey} uses), {@code hmac200BouncyCastle} with Bouncy Castle's {@code HMac} (what it
 * used before).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms512m", "-Xmx512m"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@State(Scope.Thread)
public class CryptoBenchmark {
  static final int MESSAGE_LENGTH = 33;

  private SigningKey key;
  private PublicKey publicKey;
  private byte[] message;
  private Signature signature;
  private byte[] publicBytes;
  private byte[] signatureBytes;
  private byte[] tagged;
  private byte[] macKey;
  private byte[] macMessage;
  private SecretKeySpec macKeySpec;
  private Mac jdkMac;

  @Setup
  public void setup() {
    SplittableRandom random = new SplittableRandom(8032);
    byte[] seed = new byte[SigningKey.SEED_LENGTH];
    random.nextBytes(seed);
    key = SigningKey.fromSeed(seed);
    publicKey = key.publicKey();
    message = new byte[MESSAGE_LENGTH];
    random.nextBytes(message);
    signature = key.sign(Domain.RECORD_SIGNATURE, message);
    publicBytes = publicKey.toByteArray();
    signatureBytes = signature.toByteArray();
    tagged = new byte[1 + MESSAGE_LENGTH]; // what a capsulevm signature covers: the domain tag, then the message
    tagged[0] = Domain.RECORD_SIGNATURE.tag();
    System.arraycopy(message, 0, tagged, 1, MESSAGE_LENGTH);
    if (!publicKey.verify(Domain.RECORD_SIGNATURE, message, signature) || !verify33DecodingKey()) {
      throw new IllegalStateException("the prepared signature does not verify");
    }
    macKey = new byte[32];
    random.nextBytes(macKey);
    macMessage = new byte[200];
    random.nextBytes(macMessage);
    macKeySpec = new SecretKeySpec(macKey, "HmacSHA256");
    try {
      jdkMac = Mac.getInstance("HmacSHA256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    if (!Arrays.equals(hmac200Jdk(), hmac200BouncyCastle())) {
      throw new IllegalStateException("the two HMACs differ");
    }
  }

  @Benchmark
  public Signature sign33() {
    return key.sign(Domain.RECORD_SIGNATURE, message);
  }

  @Benchmark
  public boolean verify33() {
    return publicKey.verify(Domain.RECORD_SIGNATURE, message, signature);
  }

  @Benchmark
  public boolean verify33DecodingKey() {
    return Ed25519.verify(signatureBytes, 0, publicBytes, 0, tagged, 0, tagged.length);
  }

  @Benchmark
  public byte[] hmac200Jdk() {
    try {
      jdkMac.init(macKeySpec);
    } catch (InvalidKeyException e) {
      throw new IllegalStateException(e);
    }
    jdkMac.update(macMessage);
    return jdkMac.doFinal();
  }

  @Benchmark
  public byte[] hmac200BouncyCastle() {
    HMac mac = new HMac(new SHA256Digest());
    mac.init(new KeyParameter(macKey));
    mac.update(macMessage, 0, macMessage.length);
    byte[] out = new byte[32];
    mac.doFinal(out, 0);
    return out;
  }
}
