package dev.capsulevm.renter;

import static dev.capsulevm.renter.Accounts.fund;
import static dev.capsulevm.renter.Accounts.fundedClient;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.host.server.TestHost;
import dev.capsulevm.proofs.capsule.Metadata;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.members.Rights;
import dev.capsulevm.renter.access.EncryptionKey;
import dev.capsulevm.renter.access.MemberCard;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 18's SDK: a builder for new capsules instead of seven positional arguments, a client over the
 * caller's own channel, cancelling a run, and a listener's own exception reported as the caller's.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class EverydaySdkTest {
  @TempDir static Path dir;
  private TestHost host;
  private HostClient client;

  @BeforeAll
  void start() throws Exception {
    host = new TestHost(TestHost.config(dir));
    client = fundedClient(host, 1000);
  }

  @AfterAll
  void stop() {
    client.close();
    host.close();
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void theBuilderNamesEveryFieldAndDefaultsTheRest() throws Exception {
    SigningKey creator = SigningKey.generate();
    CapsuleWriter plain = CapsuleWriter.builder(creator).maxSubRecords(64).maxSubRecordBytes(512)
        .description("named").create(client);
    Metadata m = plain.metadata().metadata();
    assertEquals(64, m.maxSubRecords());
    assertEquals(512, m.maxSubRecordBytes());
    assertEquals("named", m.description());
    assertEquals(SigningPolicy.EVERY_RECORD, m.signingPolicy());
    assertEquals(creator.publicKey(), plain.writerKey().publicKey(), "the creator writes by default");
    assertFalse(m.isPrivate());
    plain.append(client, List.of(utf8("one")));

    SigningKey writer = SigningKey.generate();
    CapsuleWriter defaults = CapsuleWriter.builder(creator).writer(writer).policy(SigningPolicy.HEARTBEAT)
        .create(client);
    assertEquals(65_536, defaults.metadata().metadata().maxSubRecords());
    assertEquals(4_096, defaults.metadata().metadata().maxSubRecordBytes());
    assertEquals(writer.publicKey(), defaults.writerKey().publicKey());
    assertTrue(defaults.metadata().metadata().writers().containsKey(writer.publicKey()));

    EncryptionKey mine = EncryptionKey.generate();
    MemberCard reader = MemberCard.create(SigningKey.generate(), EncryptionKey.generate());
    CapsuleWriter secret = CapsuleWriter.builder(creator).encrypted(mine).member(reader, Rights.READ)
        .maxSubRecords(4).create(client);
    assertTrue(secret.metadata().metadata().isPrivate());
    assertTrue(secret.metadata().metadata().writers().containsKey(reader.identity()));
    secret.append(client, List.of(utf8("sealed")));

    assertThrows(IllegalStateException.class,
        () -> CapsuleWriter.builder(creator).member(reader, Rights.READ).create(client),
        "genesis members need a private capsule");
  }

  @Test
  void aClientOverTheCallersChannelLeavesItOpen() throws Exception {
    SigningKey account = SigningKey.generate();
    fund(host, account, 100);
    ManagedChannel mine = NettyChannelBuilder.forTarget(host.address()).usePlaintext().build();
    try {
      try (HostClient over = HostClient.over(mine, account, RenterOptions.defaults())) {
        CapsuleWriter w = CapsuleWriter.builder(SigningKey.generate()).create(over);
        w.append(over, List.of(utf8("through my channel")));
        assertTrue(over.balance().units() > 0);
      }
      assertFalse(mine.isShutdown(), "closing the client leaves the caller's channel to the caller");
    } finally {
      mine.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void aCancelledRunEndsWithTheCallersCancellation() throws Exception {
    Tamper hold = new Tamper();
    CountDownLatch cancelled = new CountDownLatch(1);
    try (HostClient held = fundedClient(host, 100, hold)) {
      CapsuleWriter w = CapsuleWriter.builder(SigningKey.generate()).create(held);
      w.append(held, List.of(utf8("base")));
      // The first answer of the next program waits until the caller has cancelled it.
      hold.set((position, response) -> {
        try {
          cancelled.await(20, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        return response;
      });
      ProgramBuilder read = w.newProgram(held);
      read.heads();
      ProgramRun run = held.submit(read.build());
      run.cancel();
      cancelled.countDown();
      ProgramCancelledException e = assertThrows(ProgramCancelledException.class, run::result);
      assertFalse(e.mayHaveCommitted(), "a read commits nothing");
      assertTrue(e.getMessage().contains("the caller cancelled"), e.getMessage());
      hold.clear();
      run.cancel(); // once ended, nothing more happens
      assertThrows(ProgramCancelledException.class, run::result);
    }
  }

  @Test
  void aListenersOwnExceptionIsTheCallersNotTheHosts() throws Exception {
    CapsuleWriter w = CapsuleWriter.builder(SigningKey.generate()).create(client);
    w.append(client, List.of(utf8("one")));
    ProgramBuilder read = w.newProgram(client);
    read.readSubRecord(w.highestHead().hash(), 0, w.highestHead());
    read.heads();
    IllegalStateException mine = new IllegalStateException("the caller's bug");
    ProgramRun run = client.submit(read.build(), null, output -> {
      throw mine;
    });
    ListenerException e = assertThrows(ListenerException.class, run::result);
    assertSame(mine, e.getCause());
    assertFalse(e.mayHaveCommitted());
    assertTrue(e.getMessage().contains("listener"), e.getMessage());
    // The host keeps serving this client.
    ProgramBuilder again = w.newProgram(client);
    again.readSubRecord(w.highestHead().hash(), 0, w.highestHead());
    assertArrayEquals(utf8("one"), client.run(again.build()).output(0).payload());
  }
}
