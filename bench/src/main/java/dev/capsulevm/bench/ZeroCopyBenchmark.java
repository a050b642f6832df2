package dev.capsulevm.bench;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestException;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import net.openhft.chronicle.bytes.BytesStore;
import net.openhft.chronicle.bytes.PointerBytesStore;
import net.openhft.chronicle.core.Jvm;
import org.lmdbjava.Dbi;
import org.lmdbjava.DbiFlags;
import org.lmdbjava.Env;
import org.lmdbjava.Txn;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Reading a stored record in place from LMDB's memory, four ways, inside one open read transaction:
 * get the record value (flag, signature, header of a height-1000 record of a chain: 1 parent, 3 skip pointers) and
 * one 1 KB sub-record, read the header's fixed fields (version, capsule id checked against the expected
 * one, height, timestamp, sub-record count, parent count) and compute the sub-record's Merkle leaf hash
 * ({@code SHA-256(0x00 || payload)}).
 *
 * <ul>
 *   <li>{@code copyParse}: the copy-and-parse path, which the store does not take: copy the value to a byte[], copy the header out of
 *       it, {@code RecordHeader.parse} (which hashes it), copy the payload, hash the copy.
 *   <li>{@code byteBuffer}: absolute big-endian reads on LMDB's direct ByteBuffer, the capsule id compared
 *       in place ({@code ByteBuffer.equals} on slices), the payload handed to
 *       {@code MessageDigest.update(ByteBuffer)}.
 *   <li>{@code chronicle} (Chronicle Bytes {@code PointerBytesStore} re-pointed at the value's address,
 *       no allocation) and {@code chronicleWrap} ({@code BytesStore.wrap(ByteBuffer)} per value): the same
 *       field reads (Chronicle reads native order, so big-endian fields are byte-swapped), the payload
 *       copied into a reused array for the digest (Chronicle has no SHA-256 of its own).
 * </ul>
 *
 * <p>Run: {@code java -jar bench/target/benchmarks.jar ZeroCopyBenchmark -f 1 -wi 3 -i 5}
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Thread)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-opens", "java.base/java.nio=ALL-UNNAMED",
    "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED",
    // what Chronicle Core asks for on Java 17
    "--add-exports", "java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-exports", "java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-exports", "jdk.unsupported/sun.misc=ALL-UNNAMED",
    "--add-opens", "java.base/java.lang=ALL-UNNAMED",
    "--add-opens", "java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens", "java.base/java.io=ALL-UNNAMED",
    "--add-opens", "java.base/java.util=ALL-UNNAMED",
    "-Dchronicle.analytics.disable=true", "-Djvm.resource.tracing=false"})
public class ZeroCopyBenchmark {
  /** Offsets inside the stored record value: flag (1), signature (64), then the header. */
  private static final int HEADER_AT = 1 + 64;
  private static final int CAPSULE_AT = HEADER_AT + 1;
  private static final int HEIGHT_AT = CAPSULE_AT + 32;
  private static final int TIMESTAMP_AT = HEIGHT_AT + 8;
  private static final int COUNT_AT = TIMESTAMP_AT + 8 + 32;
  private static final int PARENTS_AT = COUNT_AT + 4 + 32;

  private ExecFixture fixture;
  private Path dir;
  private Env<ByteBuffer> env;
  private Dbi<ByteBuffer> dbi;
  private Txn<ByteBuffer> txn;
  private final ByteBuffer recordKey = ByteBuffer.allocateDirect(1);
  private final ByteBuffer payloadKey = ByteBuffer.allocateDirect(1);
  private Hash capsuleId;
  private ByteBuffer capsuleIdBuffer;
  private final MessageDigest md = Sha256.newDigest();
  private final byte[] leaf = new byte[32];
  private final byte[] scratch = new byte[4096];
  private final PointerBytesStore pointer = BytesStore.nativePointer();

  @Setup
  public void setUp() throws Exception {
    fixture = new ExecFixture("memory", null);
    RecordWithBody record = fixture.nextRecord(1);
    for (int i = 1; i < 1000; i++) {
      record = fixture.nextRecord(1);
    }
    capsuleId = fixture.capsuleId;
    capsuleIdBuffer = ByteBuffer.allocateDirect(32).put(capsuleId.toByteArray()).flip();
    byte[] header = record.record().header().encoded();
    byte[] value = new byte[HEADER_AT + header.length];
    value[0] = 1;
    Objects.requireNonNull(record.record().signatureOrNull(), "signed").copyTo(value, 1);
    System.arraycopy(header, 0, value, HEADER_AT, header.length);
    dir = Files.createTempDirectory("capsulevm-zerocopy");
    env = Env.create().setMapSize(1 << 24).setMaxDbs(1).open(dir.toFile());
    dbi = env.openDbi("values", DbiFlags.MDB_CREATE);
    recordKey.put((byte) 1).flip();
    payloadKey.put((byte) 2).flip();
    try (Txn<ByteBuffer> write = env.txnWrite()) {
      dbi.put(write, recordKey, ByteBuffer.allocateDirect(value.length).put(value).flip());
      byte[] payload = record.payloads().get(0);
      dbi.put(write, payloadKey, ByteBuffer.allocateDirect(payload.length).put(payload).flip());
      write.commit();
    }
    txn = env.txnRead();
  }

  @TearDown
  public void tearDown() {
    txn.close();
    env.close();
    fixture.close();
    TempDirectories.delete(dir);
  }

  @Benchmark
  public long copyParse() throws VerificationException, DigestException {
    ByteBuffer value = dbi.get(txn, recordKey);
    byte[] stored = new byte[value.remaining()];
    value.duplicate().get(stored);
    RecordHeader header = RecordHeader.parse(Arrays.copyOfRange(stored, HEADER_AT, stored.length));
    if (!header.capsuleId().equals(capsuleId)) {
      throw new IllegalStateException();
    }
    ByteBuffer payloadValue = dbi.get(txn, payloadKey);
    byte[] payload = new byte[payloadValue.remaining()];
    payloadValue.duplicate().get(payload);
    md.update((byte) 0);
    md.update(payload);
    md.digest(leaf, 0, 32);
    return header.height() + header.timestampMillis() + header.subRecordCount() + header.parents().size()
        + leaf[0];
  }

  @Benchmark
  public long byteBuffer() throws DigestException {
    ByteBuffer value = dbi.get(txn, recordKey);
    if (value.get(HEADER_AT) != 1 || !value.slice(CAPSULE_AT, 32).equals(capsuleIdBuffer)) {
      throw new IllegalStateException();
    }
    long fields = value.getLong(HEIGHT_AT) + value.getLong(TIMESTAMP_AT) + (value.getInt(COUNT_AT) & 0xFFFFFFFFL)
        + (value.get(PARENTS_AT) & 0xFF);
    ByteBuffer payload = dbi.get(txn, payloadKey);
    md.update((byte) 0);
    md.update(payload);
    md.digest(leaf, 0, 32);
    return fields + leaf[0];
  }

  @Benchmark
  public long chronicle() throws DigestException {
    ByteBuffer value = dbi.get(txn, recordKey);
    pointer.set(Jvm.address(value) + value.position(), value.remaining());
    long fields = readFields(pointer);
    ByteBuffer payload = dbi.get(txn, payloadKey);
    pointer.set(Jvm.address(payload) + payload.position(), payload.remaining());
    return fields + hash(pointer);
  }

  @Benchmark
  public long chronicleWrap() throws DigestException {
    ByteBuffer value = dbi.get(txn, recordKey);
    long fields = readFields(BytesStore.wrap(value));
    return fields + hash(BytesStore.wrap(dbi.get(txn, payloadKey)));
  }

  private long readFields(BytesStore<?, ?> in) {
    if (in.readByte(HEADER_AT) != 1) {
      throw new IllegalStateException();
    }
    for (int i = 0; i < 32; i += 8) {
      if (Long.reverseBytes(in.readLong(CAPSULE_AT + i)) != capsuleIdBuffer.getLong(i)) {
        throw new IllegalStateException();
      }
    }
    return Long.reverseBytes(in.readLong(HEIGHT_AT)) + Long.reverseBytes(in.readLong(TIMESTAMP_AT))
        + (Integer.reverseBytes(in.readInt(COUNT_AT)) & 0xFFFFFFFFL) + (in.readByte(PARENTS_AT) & 0xFF);
  }

  private long hash(BytesStore<?, ?> payload) throws DigestException {
    int length = (int) payload.readRemaining();
    payload.read(payload.readPosition(), scratch, 0, length);
    md.update((byte) 0);
    md.update(scratch, 0, length);
    md.digest(leaf, 0, 32);
    return leaf[0];
  }
}
