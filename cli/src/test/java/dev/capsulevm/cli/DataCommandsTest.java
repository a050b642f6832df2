package dev.capsulevm.cli;

import static dev.capsulevm.cli.CliTestSupport.concat;
import static dev.capsulevm.cli.CliTestSupport.field;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.cli.CliTestSupport.Result;
import dev.capsulevm.host.server.HostServer;
import dev.capsulevm.host.server.TestHost;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.renter.CapsuleWriter;
import dev.capsulevm.renter.HostClient;
import dev.capsulevm.renter.RenterOptions;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Data in and out on the command line against a real host in-process: {@code capsule create -q},
 * {@code list}, {@code info}, streamed {@code append} of files and standard input, {@code read} of records
 * and ranges to standard output and to files, and {@code follow}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DataCommandsTest {
  private Path dir;
  private HostServer host;

  @BeforeAll
  void start() throws Exception {
    dir = Files.createTempDirectory("capsulevm-cli-data");
    host = HostServer.start(TestHost.config(dir.resolve("host")));
    for (String state : List.of("alice", "bob")) {
      Result fund = cli(state, "account", "fund", "--amount", "1000000000", "--admin", "127.0.0.1:" + host.adminPort(),
          "--token", host.adminToken());
      assertEquals(0, fund.exitCode(), fund.err());
    }
  }

  @AfterAll
  void stop() throws Exception {
    host.close();
    try (Stream<Path> walk = Files.walk(dir)) {
      walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  private String[] common(String state) {
    return new String[] {"--host", "127.0.0.1:" + host.port(), "--state", dir.resolve(state).toString()};
  }

  private Result cli(String state, String... args) {
    return CliTestSupport.run(concat(args, common(state)));
  }

  /** The command's exit code and its standard output as bytes; {@code stdin} as standard input. */
  record Raw(int exitCode, byte[] out, String err) {}

  private Raw raw(byte[] stdin, String state, String... args) {
    synchronized (CliTestSupport.class) { // CliTestSupport swaps the same streams under this lock
      InputStream oldIn = System.in;
      PrintStream oldOut = System.out;
      PrintStream oldErr = System.err;
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      ByteArrayOutputStream err = new ByteArrayOutputStream();
      try {
        System.setIn(new ByteArrayInputStream(stdin));
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        int code = Main.run(concat(args, common(state)));
        System.out.flush();
        return new Raw(code, out.toByteArray(), err.toString(StandardCharsets.UTF_8));
      } finally {
        System.setIn(oldIn);
        System.setOut(oldOut);
        System.setErr(oldErr);
      }
    }
  }

  private String create(String state, String... options) {
    Result create = cli(state, concat(new String[] {"capsule", "create", "-q"}, options));
    assertEquals(0, create.exitCode(), create.err());
    String id = create.out().strip();
    assertTrue(id.matches("[0-9a-f]{64}"), "-q prints the id alone: " + create.out());
    assertEquals(id + "\n", create.out());
    return id;
  }

  private static byte[] randomBytes(int n, long seed) {
    byte[] bytes = new byte[n];
    new Random(seed).nextBytes(bytes);
    return bytes;
  }

  private static String sha256(byte[] bytes) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
  }

  /**
   * A file of a few MB, appended with --file in sub-records of an odd size (the last one short), several
   * records, read back with --from/--to in programs of at most 64 KiB: the same bytes, by SHA-256, and the
   * digests both commands report agree.
   */
  @Test
  void aFileAppendedInChunksReadsBackTheSameBytes() throws Exception {
    String id = create("alice", "--max-sub-record-bytes", "1024", "--max-sub-records", "512", "--description", "files");
    byte[] data = randomBytes(3 * 1024 * 1024 + 77, 18);
    Path in = dir.resolve("in.bin");
    Files.write(in, data);

    Result append = cli("alice", "capsule", "append", "--capsule", id, "--file", in.toString(), "--chunk-size", "1000",
        "--json");
    assertEquals(0, append.exitCode(), append.err());
    String json = append.out();
    int subRecords = (data.length + 999) / 1000;
    int records = (subRecords + 511) / 512;
    assertEquals(String.valueOf(data.length), field(json.substring(json.indexOf("\"bytes\":" + data.length)), "bytes"));
    assertEquals(sha256(data), field(json, "sha256"));
    assertEquals("1000", field(json, "chunkSize"));
    assertEquals("512", field(json, "subRecordsPerRecord"));
    assertEquals("1:0", field(json, "first"));
    assertEquals(records + ":" + (subRecords - 1 - 512 * (records - 1)), field(json, "last"));
    assertEquals("true", field(json, "contiguous"));
    assertEquals(records, json.split("\"record\":", -1).length - 1, json);

    Path back = dir.resolve("back.bin");
    Result read = cli("alice", "capsule", "read", "--capsule", id, "--from", field(json, "first"), "--to",
        field(json, "last"), "--out", back.toString(), "--window", "64k", "--json");
    assertEquals(0, read.exitCode(), read.err());
    assertEquals(sha256(data), sha256(Files.readAllBytes(back)));
    assertEquals(sha256(data), field(read.out(), "sha256"));
    assertEquals(String.valueOf(subRecords), field(read.out(), "subRecords"));
    assertFalse(Files.exists(dir.resolve("back.bin.part")));
    // 64 KiB programs of 1 KiB sub-records: many programs, each paid and its receipt verified.
    assertTrue(Long.parseLong(field(read.out(), "programs")) > subRecords / 64, read.out());

    // A reader from the id alone reads one whole record to standard output, raw (not a terminal).
    Raw record = raw(new byte[0], "bob", "capsule", "read", "--capsule", id, "--height", "2", "--all");
    assertEquals(0, record.exitCode(), record.err());
    byte[] expected = java.util.Arrays.copyOfRange(data, 512 * 1000, 1024 * 1000);
    assertArrayEquals(expected, record.out());
    assertTrue(record.err().contains("verified: 512 sub-record(s) of 1 record(s)"), record.err());

    // A range inside one record, and the same range as text (one line per sub-record) is what --text asks.
    Raw part = raw(new byte[0], "bob", "capsule", "read", "--capsule", id, "--from", "1:3", "--to", "1:4");
    assertArrayEquals(java.util.Arrays.copyOfRange(data, 3000, 5000), part.out());
  }

  /** Standard input, binary (every byte value), appended with - and read back raw by the record's hash. */
  @Test
  void aFileAppendedAndReadInPaymentSessionsRoundTrips() throws Exception {
    String id = create("alice", "--max-sub-record-bytes", "1024", "--max-sub-records", "8");
    byte[] data = randomBytes(40 * 1024, 21);
    Path in = dir.resolve("session-in.bin");
    Files.write(in, data);
    Result append = cli("alice", "capsule", "append", "--capsule", id, "--file", in.toString(), "--session", "50",
        "--json");
    assertEquals(0, append.exitCode(), append.err());
    assertEquals(5, append.out().split("\"record\":", -1).length - 1, "40 sub-records of 1 KiB, 8 a record: " + append.out());
    Path back = dir.resolve("session-back.bin");
    Result read = cli("alice", "capsule", "read", "--capsule", id, "--from", "1", "--out", back.toString(),
        "--session", "50");
    assertEquals(0, read.exitCode(), read.err());
    assertArrayEquals(data, Files.readAllBytes(back));
  }

  @Test
  void binaryStandardInputRoundTrips() throws Exception {
    String id = create("alice", "--max-sub-record-bytes", "100");
    byte[] data = new byte[1000];
    for (int i = 0; i < data.length; i++) {
      data[i] = (byte) i;
    }
    Raw append = raw(data, "alice", "capsule", "append", "--capsule", id, "-", "--json");
    assertEquals(0, append.exitCode(), append.err());
    String json = new String(append.out(), StandardCharsets.UTF_8);
    assertEquals("100", field(json, "chunkSize"));
    assertEquals("10", field(json, "subRecords"));
    String record = field(json, "record");
    Raw read = raw(new byte[0], "alice", "capsule", "read", "--capsule", id, "--record", record, "--all");
    assertEquals(0, read.exitCode(), read.err());
    assertArrayEquals(data, read.out());
    // One sub-record, raw and in hex; --stdin is the same as -.
    Raw one = raw(new byte[0], "alice", "capsule", "read", "--capsule", id, "--record", record, "--index", "2");
    assertArrayEquals(java.util.Arrays.copyOfRange(data, 200, 300), one.out());
    Result hex = cli("alice", "capsule", "read", "--capsule", id, "--record", record, "--index", "0", "--hex");
    assertEquals(HexFormat.of().formatHex(data, 0, 100), hex.line());
    Raw again = raw("more".getBytes(StandardCharsets.UTF_8), "alice", "capsule", "append", "--capsule", id, "--stdin");
    assertEquals(0, again.exitCode(), again.err());
    String text = new String(again.out(), StandardCharsets.UTF_8);
    assertTrue(text.contains("appended 1 record(s), 1 sub-record(s)") && text.contains("--from 2:0 --to 2:0"), text);
    Result lines = cli("alice", "capsule", "read", "--capsule", id, "--from", "1:9", "--text");
    assertEquals(List.of(new String(data, 900, 100, StandardCharsets.UTF_8), "more"),
        List.of(lines.out().split("\n", -1)).subList(0, 2), "--text: one line per sub-record, to the end");
  }

  /** A private capsule: the SDK encrypts each chunk (16 bytes of tag within the limit) and decrypts on the way back. */
  @Test
  void aPrivateCapsuleStreamsToo() throws Exception {
    String id = create("alice", "--private", "--max-sub-record-bytes", "512");
    byte[] data = randomBytes(100_000, 7);
    Path in = dir.resolve("private.bin");
    Files.write(in, data);
    Result append = cli("alice", "capsule", "append", "--capsule", id, "--file", in.toString(),
        "--sub-records-per-record", "64", "--json");
    assertEquals(0, append.exitCode(), append.err());
    assertEquals("496", field(append.out(), "chunkSize"), "the default chunk leaves room for the tag");
    assertTrue(field(append.out(), "epoch").matches("[0-9a-f]+"), append.out());
    Path back = dir.resolve("private-back.bin");
    Result read = cli("alice", "capsule", "read", "--capsule", id, "--from", "1", "--out", back.toString());
    assertEquals(0, read.exitCode(), read.err());
    assertArrayEquals(data, Files.readAllBytes(back));
    assertTrue(read.err().contains("decrypted"), read.err());
    Result tooBig = cli("alice", "capsule", "append", "--capsule", id, "--file", in.toString(), "--chunk-size", "512");
    assertEquals(2, tooBig.exitCode(), tooBig.err());
    assertTrue(tooBig.err().contains("the sub-record size must be 1 to 496 bytes"), tooBig.err());
  }

  @Test
  void listAndInfoSayWhatTheStateHoldsAndWhatTheHostVerifies() throws Exception {
    Result empty = cli("carol", "capsule", "list");
    assertEquals(0, empty.exitCode(), empty.err());
    assertTrue(empty.out().startsWith("no capsules in "), empty.out());

    String id = create("alice", "--description", "listed \"one\"", "--max-sub-records", "300");
    Result info = cli("alice", "capsule", "info", id);
    assertEquals(0, info.exitCode(), info.err());
    assertTrue(info.out().contains("description \"listed \\\"one\\\"\""), info.out());
    assertTrue(info.out().contains("limits      at most 300 sub-records of at most 4096 bytes per record"), info.out());
    assertTrue(info.out().contains("size        no records yet"), info.out());
    assertTrue(info.out().contains("read,add,admin,superadmin  the creator"), info.out());
    assertTrue(info.out().contains("this state  keys creator, writer"), info.out());

    assertEquals(0, cli("alice", "capsule", "append", "--capsule", id, "a", "b").exitCode());
    Result json = cli("bob", "capsule", "info", "--capsule", id, "--json");
    assertEquals(0, json.exitCode(), json.err());
    assertEquals("300", field(json.out(), "maxSubRecords"));
    assertEquals("1", field(json.out(), "height"));
    assertEquals("2", field(json.out(), "subRecords"));
    assertEquals("EVERY_RECORD", field(json.out(), "policy"));
    assertTrue(json.out().contains("\"keys\":[]"), json.out());

    Result list = cli("alice", "capsule", "list");
    assertEquals(0, list.exitCode(), list.err());
    String line = list.out().lines().filter(l -> l.startsWith(id)).findFirst().orElseThrow();
    assertTrue(line.contains("height 1") && line.contains("keys creator,writer") && line.contains("listed"), line);
    Result listJson = cli("bob", "capsule", "list", "--json");
    assertTrue(listJson.out().contains("\"capsule\":\"" + id + "\""), listJson.out());

    Result twice = cli("alice", "capsule", "info", id, "--capsule", id);
    assertEquals(2, twice.exitCode());
  }

  @Test
  void badCombinationsAreUsageErrors() throws Exception {
    String id = create("alice");
    Path in = dir.resolve("small.bin");
    Files.write(in, new byte[10]);
    String[][] bad = {
      {"capsule", "append", "--capsule", id, "--file", in.toString(), "extra"},
      {"capsule", "append", "--capsule", id, "--file", in.toString(), "--stdin"},
      {"capsule", "append", "--capsule", id, "x", "--chunk-size", "10"},
      {"capsule", "append", "--capsule", id, "--file", in.toString(), "--chunk-size", "0"},
      {"capsule", "read", "--capsule", id, "--to", "3"},
      {"capsule", "read", "--capsule", id, "--from", "1", "--index", "2"},
      {"capsule", "read", "--capsule", id, "--from", "x:1"},
      {"capsule", "read", "--capsule", id, "--height", "1", "--all", "--json"},
      {"capsule", "read", "--capsule", id, "--height", "1", "--raw", "--hex"},
      {"capsule", "read", "--capsule", id},
      {"capsule", "create", "-q", "--json"},
    };
    for (String[] args : bad) {
      Result r = cli("alice", args);
      assertEquals(2, r.exitCode(), String.join(" ", args) + ": " + r.err());
    }
    Result missing = cli("alice", "capsule", "append", "--capsule", id, "--file", dir.resolve("nope").toString());
    assertEquals(1, missing.exitCode(), missing.err());
    assertTrue(missing.err().contains("nope"), missing.err());
    Raw empty = raw(new byte[0], "alice", "capsule", "append", "--capsule", id, "-");
    assertEquals(0, empty.exitCode(), empty.err());
    assertTrue(new String(empty.out(), StandardCharsets.UTF_8).startsWith("nothing appended: the input is empty"));
    assertTrue(cli("alice", "capsule", "info", id).out().contains("no records yet"), "an empty input appends nothing");
    Result beyond = cli("alice", "capsule", "read", "--capsule", id, "--from", "1");
    assertEquals(1, beyond.exitCode(), beyond.err());
  }

  /**
   * An account that runs dry part way: the records appended before stay appended, and the failure line is
   * preceded by one that says which and how much of the input they hold.
   */
  @Test
  void aStreamThatFailsPartWaySaysWhatWasAppended() throws Exception {
    Result fund = cli("dave", "account", "fund", "--amount", "400000", "--admin", "127.0.0.1:" + host.adminPort(),
        "--token", host.adminToken());
    assertEquals(0, fund.exitCode(), fund.err());
    String id = create("dave", "--max-sub-record-bytes", "1000");
    Path in = dir.resolve("dry.bin");
    Files.write(in, randomBytes(200_000, 5));
    Result append = cli("dave", "capsule", "append", "--capsule", id, "--file", in.toString(),
        "--sub-records-per-record", "10");
    assertEquals(1, append.exitCode(), append.err());
    java.util.regex.Matcher m = java.util.regex.Pattern.compile(
        "appended before the failure: (\\d+) record\\(s\\), heights 1 to (\\d+), the first (\\d+) bytes")
        .matcher(append.err());
    assertTrue(m.find(), append.err());
    long records = Long.parseLong(m.group(1));
    assertTrue(records >= 1 && records < 20, append.err());
    assertEquals(m.group(1), m.group(2));
    assertEquals(records * 10_000, Long.parseLong(m.group(3)));
    Result info = cli("dave", "capsule", "info", id, "--json");
    assertEquals(m.group(1), field(info.out(), "height"));
  }

  /**
   * {@code follow} from a reader's state prints two records appended while it runs (by the SDK, on the
   * writer's state), each verified, and stops after --count; the test waits for it to end, never sleeps.
   */
  @Test
  void followPrintsRecordsAsTheyAreAppended() throws Exception {
    String id = create("alice");
    assertEquals(0, cli("alice", "capsule", "append", "--capsule", id, "before").exitCode());
    CompletableFuture<Result> follow = CompletableFuture.supplyAsync(() -> cli("bob", "capsule", "follow", id,
        "--from-height", "2", "--count", "2", "--poll-interval", "20ms", "--text"));
    Hash capsule = Hash.copyOf(HexFormat.of().parseHex(id));
    RenterState alice = new RenterState(dir.resolve("alice"));
    try (HostClient client = HostClient.connect("127.0.0.1:" + host.port(), alice.accountKey(null),
        RenterOptions.defaults())) {
      CapsuleWriter writer = alice.load(capsule);
      writer.append(client, List.of("one".getBytes(StandardCharsets.UTF_8), "two".getBytes(StandardCharsets.UTF_8)));
      writer.append(client, List.of("three".getBytes(StandardCharsets.UTF_8)));
      writer.append(client, List.of("not printed".getBytes(StandardCharsets.UTF_8)));
      alice.save(writer);
    }
    Result followed = follow.get(60, TimeUnit.SECONDS);
    assertEquals(0, followed.exitCode(), followed.err());
    assertEquals("one\ntwo\nthree\n", followed.out());
    assertEquals(2, followed.err().lines().filter(l -> l.startsWith("record ") && l.endsWith("verified")).count(),
        followed.err());

    Result json = cli("bob", "capsule", "follow", "--capsule", id, "--from-height", "1", "--count", "1", "--json");
    assertEquals(0, json.exitCode(), json.err());
    assertEquals("before", field(json.out(), "payload"));
    assertEquals("0", field(json.out(), "index"));
  }
}
