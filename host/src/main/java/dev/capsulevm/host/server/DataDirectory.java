package dev.capsulevm.host.server;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A host's hold on its data directory: an OS file lock on {@value #LOCK_FILE} (so one host per
 * directory; the lock goes with the process if it dies), owner-only modes (directories 0700, files
 * 0600, on POSIX file systems), and what a start made, so a failed start can take it back.
 *
 * <p>{@link FileChannel} locks belong to the whole JVM, and on POSIX closing any descriptor of the lock
 * file drops the process's lock. So hosts of one JVM also claim the directory in {@link #HELD} before
 * they open the lock file, and a second host of this JVM is refused without ever opening it.
 */
public final class DataDirectory implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(DataDirectory.class);
  public static final String LOCK_FILE = "host.lock";
  /** Directories held by hosts of this JVM (real paths) and how the lock file describes their owner. */
  private static final ConcurrentMap<Path, String> HELD = new ConcurrentHashMap<>();
  private static final Set<PosixFilePermission> GROUP_AND_OTHERS = EnumSet.of(
      PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_EXECUTE,
      PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_EXECUTE);
  static final Set<PosixFilePermission> DIRECTORY_MODE = PosixFilePermissions.fromString("rwx------");
  static final Set<PosixFilePermission> FILE_MODE = PosixFilePermissions.fromString("rw-------");

  private final Path directory;
  private final Path realDirectory;
  private final FileChannel channel;
  private final FileLock lock;
  /** Files and directories this start made, removed again if the start fails. */
  private final List<Path> made = new ArrayList<>();
  private boolean closed;

  private DataDirectory(Path directory, Path realDirectory, FileChannel channel, FileLock lock) {
    this.directory = directory;
    this.realDirectory = realDirectory;
    this.channel = channel;
    this.lock = lock;
  }

  /**
   * Creates {@code directory} (0700) if missing, takes the lock, writes this process's id and the time
   * into the lock file, then removes group and other access from the directory and everything in it
   * (one log line when something was looser). Nothing in the directory is read or changed before the
   * lock is held.
   *
   * @throws DataDirectoryInUseException when another host, in this process or another, holds it
   */
  public static DataDirectory lock(Path directory) throws IOException {
    createPrivateDirectories(directory);
    Path real = directory.toRealPath();
    String owner = ownerLine();
    String heldBy = HELD.putIfAbsent(real, owner);
    if (heldBy != null) {
      throw new DataDirectoryInUseException(directory, heldBy);
    }
    FileChannel channel = null;
    try {
      channel = FileChannel.open(real.resolve(LOCK_FILE), openOptions(), privateFile());
      FileLock lock;
      try {
        lock = channel.tryLock();
      } catch (OverlappingFileLockException e) {
        lock = null; // something else in this JVM locked the file: held all the same
      }
      if (lock == null) {
        throw new DataDirectoryInUseException(directory, readOwner(channel));
      }
      channel.truncate(0);
      channel.write(ByteBuffer.wrap(owner.getBytes(StandardCharsets.UTF_8)), 0);
      channel.force(true);
      DataDirectory held = new DataDirectory(directory, real, channel, lock);
      tighten(real);
      return held;
    } catch (IOException | RuntimeException e) {
      if (channel != null) {
        try {
          channel.close();
        } catch (IOException suppressed) {
          e.addSuppressed(suppressed);
        }
      }
      HELD.remove(real, owner);
      throw e;
    }
  }

  private static Set<OpenOption> openOptions() {
    return Set.of(StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
  }

  /** What the lock file holds: {@code pid=N started=INSTANT}, one line. */
  private static String ownerLine() {
    return "pid=" + ProcessHandle.current().pid() + " started=" + Instant.now().truncatedTo(ChronoUnit.SECONDS)
        + "\n";
  }

  private static String readOwner(FileChannel channel) throws IOException {
    ByteBuffer buffer = ByteBuffer.allocate(256);
    channel.read(buffer, 0);
    String text = new String(buffer.array(), 0, buffer.position(), StandardCharsets.UTF_8).trim();
    return text.isEmpty() ? "pid unknown, it is starting" : text;
  }

  /** The directory as configured. */
  public Path directory() {
    return directory;
  }

  /** {@code name} in the directory; if it does not exist yet, a failed start removes it again. */
  Path made(String name) {
    Path path = realDirectory.resolve(name);
    if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
      made.add(path);
    }
    return path;
  }

  /**
   * After a failed start: removes what this start made (the host key, the admin token, the store, ...),
   * then releases the lock. The lock file stays (removing it could let two hosts lock two files).
   */
  void abandon(Exception cause) {
    List<String> removed = new ArrayList<>();
    for (int i = made.size() - 1; i >= 0; i--) {
      Path path = made.get(i);
      try {
        if (Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
          deleteTree(path);
          removed.add(String.valueOf(path.getFileName()));
        }
      } catch (IOException | RuntimeException e) {
        cause.addSuppressed(e);
      }
    }
    if (!removed.isEmpty()) {
      log.info("the start failed; removed what it made in {}: {}", directory, String.join(", ", removed));
    }
    close();
  }

  /** Releases the lock (the lock file stays). */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      lock.release();
      channel.close();
    } catch (IOException e) {
      log.warn("could not release the lock on {}: {}", realDirectory.resolve(LOCK_FILE), e.toString());
    } finally {
      HELD.remove(realDirectory);
    }
  }

  private static void deleteTree(Path path) throws IOException {
    if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(path)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
        try {
          Files.delete(p);
        } catch (NoSuchFileException | DirectoryNotEmptyException e) {
          // gone already, or something else put a file there: leave it
        }
      }
    }
  }

  /** Creates {@code directory} and its missing parents; the directory itself 0700 on POSIX. */
  static void createPrivateDirectories(Path directory) throws IOException {
    if (Files.isDirectory(directory)) {
      return;
    }
    Path parent = directory.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    try {
      Files.createDirectory(directory, PosixFilePermissions.asFileAttribute(DIRECTORY_MODE));
    } catch (UnsupportedOperationException e) {
      Files.createDirectory(directory);
    } catch (FileAlreadyExistsException e) {
      if (!Files.isDirectory(directory)) {
        throw e;
      }
    }
  }

  /** The attribute that makes a new file 0600, or none where the file system has no POSIX modes. */
  static FileAttribute<?>[] privateFile() {
    return isPosix() ? new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(FILE_MODE)}
        : new FileAttribute<?>[0];
  }

  private static boolean isPosix() {
    return java.nio.file.FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
  }

  /** Writes {@code bytes} to {@code file}, made 0600 if new (a temporary file the caller moves in place). */
  static void writePrivate(Path file, byte[] bytes) throws IOException {
    Files.deleteIfExists(file);
    Files.createFile(file, privateFile());
    Files.write(file, bytes);
  }

  /** Removes group and other access from the directory and everything in it; one log line if any. */
  static void tighten(Path directory) throws IOException {
    if (Files.getFileAttributeView(directory, PosixFileAttributeView.class) == null) {
      return;
    }
    List<String> tightened = new ArrayList<>();
    try (Stream<Path> walk = Files.walk(directory)) {
      for (Path p : walk.toList()) {
        if (Files.isSymbolicLink(p)) {
          continue;
        }
        try {
          Set<PosixFilePermission> mode = Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS);
          Set<PosixFilePermission> looser = EnumSet.noneOf(PosixFilePermission.class);
          looser.addAll(mode);
          looser.retainAll(GROUP_AND_OTHERS);
          if (!looser.isEmpty()) {
            Set<PosixFilePermission> owner = EnumSet.noneOf(PosixFilePermission.class);
            owner.addAll(mode);
            owner.removeAll(GROUP_AND_OTHERS);
            Files.setPosixFilePermissions(p, owner);
            Path name = directory.relativize(p);
            tightened.add((name.toString().isEmpty() ? "." : name) + " (was " + PosixFilePermissions.toString(mode)
                + ")");
          }
        } catch (UnsupportedOperationException e) {
          return;
        }
      }
    }
    if (!tightened.isEmpty()) {
      log.warn("data directory {} was readable or writable by others; removed group and other access from {}",
          directory, String.join(", ", tightened));
    }
  }
}
