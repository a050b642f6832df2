package dev.capsulevm.renter;

import static dev.capsulevm.renter.Accounts.fundedClient;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.capsulevm.host.server.TestHost;
import dev.capsulevm.pricing.Limits;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.members.Rights;
import dev.capsulevm.renter.access.EncryptionKey;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ChunkedAppender} and {@link RangeReader} against a real host: a stream cut into records of
 * fixed-size sub-records and read back by positions, in windows, every byte verified before the sink gets it.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class StreamTest {
  @TempDir static Path dir;
  private TestHost host;
  private final Tamper tamper = new Tamper();
  private HostClient client;

  @BeforeAll
  void start() throws Exception {
    host = new TestHost(TestHost.config(dir));
    client = fundedClient(host, 1000, tamper);
  }

  @AfterAll
  void stop() throws Exception {
    client.close();
    host.close();
  }

  private CapsuleWriter capsule(long maxSubRecords, long maxSubRecordBytes) throws RenterException {
    SigningKey creator = SigningKey.generate();
    return CapsuleWriter.create(client, creator, creator, SigningPolicy.EVERY_RECORD, maxSubRecords, maxSubRecordBytes,
        "stream");
  }

  private static byte[] bytes(int n, long seed) {
    byte[] out = new byte[n];
    new Random(seed).nextBytes(out);
    return out;
  }

  /** Collects what a range read hands on, in order. */
  private static final class Collected implements RangeReader.Sink, RangeReader.Listener {
    final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    final List<String> positions = new ArrayList<>();
    final List<RecordHeader> skipped = new ArrayList<>();
    final List<Long> done = new ArrayList<>();
    int programs;

    @Override
    public void accept(RecordHeader record, long index, byte[] plaintext) {
      bytes.writeBytes(plaintext);
      positions.add(record.height() + ":" + index);
    }

    @Override
    public void ran(ProgramResult result) {
      programs++;
    }

    @Override
    public void skipped(RecordHeader record) {
      skipped.add(record);
    }

    @Override
    public void recordDone(RecordHeader record) {
      done.add(record.height());
    }
  }

  @Test
  void theLayoutFollowsTheCapsuleAndTheHost() throws Exception {
    CapsuleWriter plain = capsule(64, 100);
    Limits limits = client.priceTable().limits();
    assertEquals(new ChunkedAppender.Layout(100, 64), ChunkedAppender.Layout.forCapsule(plain.metadata(), limits,
        null, null));
    assertEquals(new ChunkedAppender.Layout(10, 7), ChunkedAppender.Layout.forCapsule(plain.metadata(), limits, 10, 7));
    IllegalArgumentException big = assertThrows(IllegalArgumentException.class,
        () -> ChunkedAppender.Layout.forCapsule(plain.metadata(), limits, 101, null));
    assertTrue(big.getMessage().contains("must be 1 to 100 bytes"), big.getMessage());
    IllegalArgumentException many = assertThrows(IllegalArgumentException.class,
        () -> ChunkedAppender.Layout.forCapsule(plain.metadata(), limits, 10, 65));
    assertTrue(many.getMessage().contains("holds 1 to 64 sub-records"), many.getMessage());
    // 4 MiB per record by default, when the capsule takes more.
    CapsuleWriter wide = capsule(1 << 16, 4096);
    assertEquals(new ChunkedAppender.Layout(4096, 1024), ChunkedAppender.Layout.forCapsule(wide.metadata(), limits,
        null, null));
    // A private capsule's sub-records carry a 16-byte tag within the limit.
    SigningKey creator = SigningKey.generate();
    CapsuleWriter secret = CapsuleWriter.createPrivate(client, creator, creator, EncryptionKey.generate(), Map.of(),
        SigningPolicy.EVERY_RECORD, 64, 100, "secret");
    assertEquals(84, ChunkedAppender.Layout.forCapsule(secret.metadata(), limits, null, null).chunkBytes());
  }

  /**
   * 205 bytes in sub-records of 10 bytes, 7 per record: 21 sub-records (the last one 5 bytes) in 3 records,
   * each committed; read back whole, by a range across records, and one record by its hash.
   */
  @Test
  void aStreamRoundTripsByPositions() throws Exception {
    CapsuleWriter writer = capsule(64, 64);
    byte[] data = bytes(205, 1);
    List<ChunkedAppender.Appended> heard = new ArrayList<>();
    ChunkedAppender.Summary summary = ChunkedAppender.append(client, writer, new ByteArrayInputStream(data),
        new ChunkedAppender.Layout(10, 7), (record, result, soFar) -> heard.add(record));
    assertEquals(3, summary.records().size());
    assertEquals(summary.records(), heard);
    assertEquals(List.of(7, 7, 7), summary.records().stream().map(ChunkedAppender.Appended::subRecords).toList());
    assertEquals(65, summary.records().get(2).bytes());
    assertEquals(21, summary.subRecords());
    assertEquals(205, summary.bytes());
    assertTrue(summary.contiguous());
    assertArrayEquals(MessageDigest.getInstance("SHA-256").digest(data), summary.sha256());
    assertEquals(new SubRecordPosition(1, 0), summary.first());
    assertEquals(new SubRecordPosition(3, 6), summary.last());
    assertEquals(summary.records().get(2).record(), writer.highestHead().hash());

    RecordHeader head = writer.highestHead();
    RangeReader reader = new RangeReader(client, RangeReader.source(writer, client), writer.metadata(), 128);
    Collected all = new Collected();
    RangeReader.Summary read = reader.read(head, summary.first(), summary.last(), all, all);
    assertArrayEquals(data, all.bytes.toByteArray());
    assertEquals(new RangeReader.Summary(3, 21, 205, 0), read);
    assertEquals(List.of(1L, 2L, 3L), all.done);
    // 128 bytes of window by the capsule's 64-byte limit: two reads a program, after one program of headers.
    assertEquals(1 + 11, all.programs);

    Collected part = new Collected();
    reader.read(head, new SubRecordPosition(1, 5), new SubRecordPosition(2, 1), part, part);
    assertArrayEquals(Arrays.copyOfRange(data, 50, 90), part.bytes.toByteArray());
    assertEquals(List.of("1:5", "1:6", "2:0", "2:1"), part.positions);

    Collected record = new Collected();
    reader.readRecord(head, summary.records().get(1).record(), record, record);
    assertArrayEquals(Arrays.copyOfRange(data, 70, 140), record.bytes.toByteArray());

    RenterException beyond = assertThrows(RenterException.class,
        () -> reader.read(head, new SubRecordPosition(2, 7), summary.last(), new Collected(), new Collected()));
    assertTrue(beyond.getMessage().contains("has 7 sub-record(s): there is no sub-record 7"), beyond.getMessage());
    assertThrows(IllegalArgumentException.class,
        () -> reader.read(head, new SubRecordPosition(2, 0), new SubRecordPosition(4, 0), new Collected(), new Collected()));

    ChunkedAppender.Summary empty = ChunkedAppender.append(client, writer, new ByteArrayInputStream(new byte[0]),
        new ChunkedAppender.Layout(10, 7), (r, result, soFar) -> { });
    assertEquals(0, empty.records().size());
    assertNull(empty.first());
  }

  /** A membership record between two appended runs is not data: skipped, and the data around it reads on. */
  @Test
  void aMembershipRecordInTheRangeIsSkipped() throws Exception {
    CapsuleWriter writer = capsule(64, 64);
    byte[] first = bytes(30, 2);
    byte[] second = bytes(30, 3);
    ChunkedAppender.Layout layout = new ChunkedAppender.Layout(10, 3);
    ChunkedAppender.append(client, writer, new ByteArrayInputStream(first), layout, (r, result, soFar) -> { });
    writer.addMember(client, SigningKey.generate().publicKey(), Rights.READ);
    ChunkedAppender.append(client, writer, new ByteArrayInputStream(second), layout, (r, result, soFar) -> { });
    RecordHeader head = writer.highestHead();
    assertEquals(3, head.height());
    Collected got = new Collected();
    RangeReader.Summary read = new RangeReader(client, RangeReader.source(writer, client), writer.metadata(),
        RangeReader.DEFAULT_WINDOW_BYTES).read(head, new SubRecordPosition(1, 0),
        new SubRecordPosition(3, Long.MAX_VALUE), got, got);
    byte[] both = Arrays.copyOf(first, 60);
    System.arraycopy(second, 0, both, 30, 30);
    assertArrayEquals(both, got.bytes.toByteArray());
    assertEquals(1, read.skipped());
    assertEquals(2, got.skipped.get(0).height());
  }

  /**
   * A man in the middle changes one byte of a read in the second read program: the run fails as host
   * misbehaviour, and the sink got exactly the first program's sub-records, each verified.
   */
  @Test
  void aTamperedReadStopsTheRunBeforeAByteOfItIsHandedOn() throws Exception {
    CapsuleWriter writer = capsule(64, 64);
    byte[] data = bytes(80, 4);
    ChunkedAppender.append(client, writer, new ByteArrayInputStream(data), new ChunkedAppender.Layout(10, 8),
        (r, result, soFar) -> { });
    RangeReader reader = new RangeReader(client, RangeReader.source(writer, client), writer.metadata(), 256);
    AtomicInteger calls = new AtomicInteger();
    tamper.set((position, response) -> {
      int call = position == 0 ? calls.incrementAndGet() : calls.get();
      if (call != 3 || position != 1 || !response.hasResult()) {
        return response; // call 1 proves the header, call 2 reads sub-records 0-3, call 3 reads 4-7
      }
      byte[] output = response.getResult().getOutput().toByteArray();
      output[output.length / 2] ^= 1;
      return response.toBuilder().setResult(response.getResult().toBuilder().setOutput(ByteString.copyFrom(output)))
          .build();
    });
    Collected got = new Collected();
    try {
      assertThrows(HostMisbehaviourException.class, () -> reader.read(writer.highestHead(),
          new SubRecordPosition(1, 0), new SubRecordPosition(1, 7), got, got));
      assertEquals(1, tamper.changed.get());
    } finally {
      tamper.clear();
    }
    assertArrayEquals(Arrays.copyOf(data, 40), got.bytes.toByteArray());
  }
}
