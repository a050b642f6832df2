package dev.capsulevm.bench;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.Signature;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
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
 * verify33DecodingKey} through Bouncy Castle's byte-array API, which decodes the key on every call.
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
}
