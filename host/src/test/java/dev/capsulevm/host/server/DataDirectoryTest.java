package dev.capsulevm.host.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.capsulevm.host.ChildJvm;
import dev.capsulevm.host.daemon.HostCommand;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.Limits;
import dev.capsulevm.pricing.PriceTable;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** One host per data directory (an OS file lock), owner-only modes, and no key left by a failed start. */
class DataDirectoryTest {
  @TempDir
  Path tmp;

  private static HostConfig config(Path dir) {
    return HostConfig.defaults(dir).withPorts(0, 0).withMetricsPort(-1);
  }

  @Test
  void aSecondHostOnTheSameDirectoryIsRefusedNamingTheFirstAndChangesNothing() throws Exception {
    Path dir = tmp.resolve("data");
    HostServer first = HostServer.start(config(dir));
    String key;
    try {
      key = first.hostKey().toHex();
      Map<String, String> before = listing(dir);
      DataDirectoryInUseException refused = assertThrows(DataDirectoryInUseException.class,
          () -> HostServer.start(config(dir)));
      assertTrue(refused.getMessage().contains(dir.toAbsolutePath().toString()), refused.getMessage());
      assertTrue(refused.getMessage().contains("pid=" + ProcessHandle.current().pid()), refused.getMessage());
      assertEquals(before, listing(dir), "the refused start changed nothing");

      // The command says so in one line and exits with its code.
      StringWriter err = new StringWriter();
      StringWriter out = new StringWriter();
      int code = new CommandLine(new HostCommand()).setErr(new PrintWriter(err)).setOut(new PrintWriter(out))
          .execute("--data-dir", dir.toString(), "--port", "0", "--admin-port", "0", "--metrics-port", "-1");
      assertEquals(HostCommand.EXIT_DATA_DIR_IN_USE, code, err.toString());
      List<String> lines = err.toString().lines().toList();
      assertEquals(1, lines.size(), err.toString());
      assertTrue(lines.get(0).contains(dir.toAbsolutePath().toString())
          && lines.get(0).contains("pid=" + ProcessHandle.current().pid()), lines.get(0));
      assertEquals("", out.toString());
      assertEquals(before, listing(dir), "the refused command changed nothing");
    } finally {
      first.close();
    }
    try (HostServer again = HostServer.start(config(dir))) {
      assertEquals(key, again.hostKey().toHex(), "once the first stopped, the directory is free");
    }
  }

  @Test
  void aLockTakenElsewhereInThisJvmCountsAsHeld() throws Exception {
    Path dir = tmp.resolve("data");
    Files.createDirectory(dir);
    try (FileChannel channel = FileChannel.open(dir.resolve(DataDirectory.LOCK_FILE), StandardOpenOption.CREATE,
        StandardOpenOption.WRITE); FileLock lock = channel.lock()) {
      assertTrue(lock.isValid());
      DataDirectoryInUseException refused = assertThrows(DataDirectoryInUseException.class,
          () -> HostServer.start(config(dir)));
      assertTrue(refused.getMessage().contains(dir.toAbsolutePath().toString()), refused.getMessage());
      assertFalse(Files.exists(dir.resolve(HostServer.HOST_KEY_FILE)));
    }
  }

  @Test
  void aHostInAnotherProcessHoldsTheDirectoryUntilItDies() throws Exception {
    Path dir = tmp.resolve("data");
    String key;
    try (ChildJvm child = ChildJvm.start(tmp.resolve("child.log"), 128, DataDirectoryLockChild.class,
        dir.toString())) {
      String serving = child.nextLine();
      assertTrue(serving.startsWith("serving "), serving);
      key = serving.substring("serving ".length());
      DataDirectoryInUseException refused = assertThrows(DataDirectoryInUseException.class,
          () -> HostServer.start(config(dir)));
      assertTrue(refused.owner().startsWith("pid=" + child.pid() + " started="), refused.owner());
      assertTrue(refused.getMessage().contains(dir.toAbsolutePath().toString()), refused.getMessage());
      child.kill();
    }
    // The operating system released the dead host's lock.
    try (HostServer host = HostServer.start(config(dir))) {
      assertEquals(key, host.hostKey().toHex());
    }
  }

  @Test
  void theDirectoryIs0700AndEveryFileInIt0600() throws Exception {
    assumeTrue(posix());
    Path dir = tmp.resolve("new").resolve("data");
    try (HostServer host = HostServer.start(config(dir))) {
      HostConfig c = host.config();
      Limits limits = new Limits(c.maxProgramBytes(), c.maxInstructions(), c.maxRecordBytes(),
          c.maxSubRecordsPerRecord(), c.maxConcurrentPrograms(), Amount.of(c.maxBalanceUnits()));
      new PriceTemplateStore(dir).save(new PriceTable(host.hostKey(), Instant.EPOCH, Instant.EPOCH.plusSeconds(60),
          PriceTables.defaultPrices(), limits));
      Map<String, String> modes = modes(dir);
      for (String file : List.of(HostServer.HOST_KEY_FILE, HostServer.ADMIN_TOKEN_FILE, DataDirectory.LOCK_FILE,
          PriceTables.FILE, PriceTemplateStore.FILE, "store/data.mdb", "store/lock.mdb")) {
        assertEquals("rw-------", modes.get(file), file + " in " + modes);
      }
      assertEquals("rwx------", modes.get("."), modes.toString());
      assertEquals("rwx------", modes.get("store"), modes.toString());
      assertEquals(Set.of("rw-------", "rwx------"), Set.copyOf(modes.values()), modes.toString());
    }
  }

  @Test
  void anExistingDirectoryWithLooserModesIsTightenedAtStart() throws Exception {
    assumeTrue(posix());
    Path dir = tmp.resolve("data");
    Files.createDirectories(dir.resolve("store"));
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.setPosixFilePermissions(dir.resolve("store"), PosixFilePermissions.fromString("rwxrwxrwx"));
    Files.writeString(dir.resolve("notes.txt"), "an operator's file\n");
    Files.setPosixFilePermissions(dir.resolve("notes.txt"), PosixFilePermissions.fromString("rw-r--r--"));
    try (HostServer host = HostServer.start(config(dir))) {
      assertTrue(host.port() > 0);
      Map<String, String> modes = modes(dir);
      assertEquals("rwx------", modes.get("."));
      assertEquals("rwx------", modes.get("store"));
      assertEquals("rw-------", modes.get("notes.txt"));
      assertEquals(Set.of("rw-------", "rwx------"), Set.copyOf(modes.values()), modes.toString());
    }
  }

  @Test
  void aPortInUseLeavesNoHostKeyBehindAndReleasesTheDirectory() throws Exception {
    Path dir = tmp.resolve("data");
    Files.createDirectory(dir);
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      HostConfig busy = HostConfig.defaults(dir).withPorts(0, taken.getLocalPort()).withMetricsPort(-1);
      assertThrows(IOException.class, () -> HostServer.start(busy));
    }
    assertEquals(Set.of(DataDirectory.LOCK_FILE), listing(dir).keySet(),
        "only the lock file is left: no host key, admin token, store or price tables");
    try (HostServer host = HostServer.start(config(dir))) {
      assertEquals(host.hostKey(), dev.capsulevm.proofs.crypto.KeyFile.read(dir.resolve(HostServer.HOST_KEY_FILE))
          .publicKey());
    }
  }

  @Test
  void aFailedStartKeepsWhatWasThereBefore() throws Exception {
    Path dir = tmp.resolve("data");
    String key;
    try (HostServer host = HostServer.start(config(dir))) {
      key = host.hostKey().toHex();
    }
    Map<String, String> before = contents(dir);
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      HostConfig busy = HostConfig.defaults(dir).withPorts(taken.getLocalPort(), 0).withMetricsPort(-1);
      assertThrows(IOException.class, () -> HostServer.start(busy));
    }
    assertEquals(before.keySet(), contents(dir).keySet());
    try (HostServer host = HostServer.start(config(dir))) {
      assertEquals(key, host.hostKey().toHex());
    }
  }

  private static boolean posix() {
    return FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
  }

  /** Every entry under {@code dir} with its size, modification time and mode, found without opening any. */
  private static Map<String, String> listing(Path dir) throws IOException {
    Map<String, String> out = new TreeMap<>();
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : walk.filter(p -> !p.equals(dir)).toList()) {
        String mode = posix() ? PosixFilePermissions.toString(Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS))
            : "";
        out.put(dir.relativize(p).toString().replace('\\', '/'),
            Files.size(p) + " " + Files.getLastModifiedTime(p) + " " + mode);
      }
    }
    return out;
  }

  /** The names of every entry under {@code dir}. */
  private static Map<String, String> contents(Path dir) throws IOException {
    try (Stream<Path> walk = Files.walk(dir)) {
      return walk.filter(p -> !p.equals(dir)).collect(Collectors.toMap(
          p -> dir.relativize(p).toString(), p -> "", (a, b) -> a, TreeMap::new));
    }
  }

  private static Map<String, String> modes(Path dir) throws IOException {
    Map<String, String> out = new TreeMap<>();
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : walk.toList()) {
        String name = dir.relativize(p).toString().replace('\\', '/');
        out.put(name.isEmpty() ? "." : name,
            PosixFilePermissions.toString(Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS)));
      }
    }
    return out;
  }
}
