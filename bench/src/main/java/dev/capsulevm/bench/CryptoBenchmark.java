package dev.capsulevm.bench;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.Signature;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
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

/** Ed25519 (Bouncy Castle, RFC 8032) signing and verification of a 33-byte message. */
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
    if (!publicKey.verify(Domain.RECORD_SIGNATURE, message, signature)) {
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
}
