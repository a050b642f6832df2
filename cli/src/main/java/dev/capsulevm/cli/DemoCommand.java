package dev.capsulevm.cli;

import dev.capsulevm.host.replication.Replicator;
import dev.capsulevm.host.replication.SyncSession;
import dev.capsulevm.host.server.HostConfig;
import dev.capsulevm.host.server.HostServer;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.InstructionKind;
import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.pricing.Prices;
import dev.capsulevm.program.Output;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.integrity.RecordProof;
import dev.capsulevm.proofs.members.Rights;
import dev.capsulevm.renter.AdminClient;
import dev.capsulevm.renter.CapsuleMembers;
import dev.capsulevm.renter.CapsuleWriter;
import dev.capsulevm.renter.HostClient;
import dev.capsulevm.renter.HostMisbehaviourException;
import dev.capsulevm.renter.NotAllowedException;
import dev.capsulevm.renter.ProgramBuilder;
import dev.capsulevm.renter.ProgramFailedException;
import dev.capsulevm.renter.ProgramResult;
import dev.capsulevm.renter.ProgramRun;
import dev.capsulevm.renter.RenterException;
import dev.capsulevm.renter.RenterOptions;
import dev.capsulevm.renter.VerifiedOutput;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code capsulevm demo}: a real host and a renter in one process, talking gRPC over loopback. The host
 * runs on ephemeral ports with a temporary data directory (deleted at the end); the renter funds an
 * account, creates a capsule, appends records (one holding 1,000 sub-records), reads and proves them
 * with every answer verified, prints each program's cost and refund, shows a tampered answer and a
 * tampered write being caught, then has a second host pull the capsule in one sync session and reads
 * from it; last, a member is added, appends with its own key, is removed and refused.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
    description = "Run a host in-process and walk a renter through the product, every answer verified.")
final class DemoCommand implements Callable<Integer> {
  @Option(names = "--sub-records", defaultValue = "1000",
      description = "Sub-records in the big record (default: ${DEFAULT-VALUE}).")
  int bigRecord;

  private final PrintStream out = System.out;

  @Override
  public Integer call() throws Exception {
    if (bigRecord < 1) {
      System.err.println("capsulevm demo: --sub-records must be at least 1");
      return Main.EXIT_USAGE;
    }
    if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
      System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
    }
    Path dir = Files.createTempDirectory("capsulevm-demo");
    try (HostServer host = HostServer.start(HostConfig.defaults(dir).withPorts(0, 0).withMetricsPort(-1))) {
      return run(host, dir);
    } finally {
      delete(dir);
    }
  }

  private int run(HostServer host, Path dir) throws RenterException {
    String address = "127.0.0.1:" + host.port();
    out.println("capsulevm demo: a storage host and a renter in one process, talking gRPC over loopback.");
    out.println("The host is not trusted: the renter verifies every answer before using it.");
    out.println();
    out.println("host     listening on " + address + " (admin on port " + host.adminPort() + "), data in " + dir);
    out.println("         host key " + host.hostKey().toHex());

    SigningKey account = SigningKey.generate();
    try (AdminClient admin = AdminClient.connect("127.0.0.1:" + host.adminPort(), host.adminToken())) {
      Amount balance = admin.fund(account.publicKey(), Amount.ofCap(1000));
      out.println("account  " + account.publicKey().toHex());
      out.println("         funded with " + balance + " by the operator (Admin service, token from the data directory)");
    }

    try (HostClient client = HostClient.connect(address, account, RenterOptions.defaults())) {
      PriceTable table = client.priceTable();
      Prices p = table.prices();
      out.println("prices   table " + table.id().toHex().substring(0, 16) + "..., signed by the host, valid until "
          + table.validUntil() + ", checked against the renter's maximum prices");
      out.println("         e.g. program " + p.programBase().units() + " units + " + p.programPerByte().units()
          + "/byte, read " + p.instruction(InstructionKind.READ_SUB_RECORD).base().units() + " + "
          + p.instruction(InstructionKind.READ_SUB_RECORD).perByte().units() + "/byte, download "
          + p.downloadPerByte().units() + "/byte, storage " + p.storagePerByteDurationUnit().units()
          + "/byte (1 CAP = 1,000,000 units)");
      out.println();

      step("1. Create a capsule (its id is the hash of its signed metadata; the host's answer must be that hash).");
      SigningKey creatorKey = SigningKey.generate();
      CapsuleWriter writer = CapsuleWriter.create(client, creatorKey, SigningKey.generate(),
          SigningPolicy.EVERY_RECORD, 4096, 256, "capsulevm demo");
      out.println("   capsule " + writer.capsuleId().toHex());
      cost(RenterArgs.lastResult(writer));

      step("2. Append a record with one sub-record (the plain DataCapsule model), signed by the writer.");
      RecordWithBody first = writer.append(client, List.of(utf8("hello, capsule"))).get(0);
      out.println("   record " + short16(first.hash()) + " at height 1; the renter stated the heads its append leaves,"
          + " the host committed because the program left exactly those, and the renter verified its answer");
      cost(RenterArgs.lastResult(writer));

      step("3. Append a record with " + bigRecord + " sub-records (a key-value snapshot): one signature covers all.");
      List<byte[]> kv = new ArrayList<>();
      for (int i = 0; i < bigRecord; i++) {
        kv.add(utf8("key-" + i + "=value-" + i));
      }
      RecordWithBody big = writer.append(client, kv).get(0);
      out.println("   record " + short16(big.hash()) + " at height 2, Merkle root over " + bigRecord + " sub-records");
      cost(RenterArgs.lastResult(writer));

      step("4. Append three records in one program, then ask for the heads (each head's signature is checked).");
      List<RecordWithBody> three = writer.appendRecords(client,
          List.of(List.of(utf8("a")), List.of(utf8("b")), List.of(utf8("c"))));
      cost(RenterArgs.lastResult(writer));
      List<Record> heads = writer.refreshHeads(client);
      out.println("   heads: " + heads.size() + " head, " + short16(heads.get(0).hash()) + " at height "
          + heads.get(0).header().height() + ", signature valid");
      cost(RenterArgs.lastResult(writer));
      RecordHeader head = Objects.requireNonNull(writer.highestHead(), "the capsule has records");

      int index = Math.min(123, bigRecord - 1);
      step("5. Read sub-record " + index + " of the big record: payload plus a proof from the head down to it.");
      ProgramBuilder read = writer.newProgram(client);
      read.readSubRecord(big.hash(), index, head);
      ProgramResult one = client.run(read.build());
      VerifiedOutput v = one.output(0);
      out.println("   \"" + new String(v.payload(), StandardCharsets.UTF_8) + "\" verified: Merkle path to the record's root,"
          + " header path to head " + short16(head.hash()));
      cost(one);

      int many = Math.min(100, bigRecord);
      step("6. Read " + many + " sub-records in one program; each is verified as it arrives (streamed).");
      ProgramBuilder batch = writer.newProgram(client);
      for (int i = 0; i < many; i++) {
        batch.readSubRecord(big.hash(), i, head);
      }
      ProgramRun run = client.submit(batch.build());
      int seen = 0;
      for (VerifiedOutput o : run) {
        if (!new String(o.payload(), StandardCharsets.UTF_8).equals("key-" + seen + "=value-" + seen)) {
          throw new IllegalStateException("unexpected payload at " + seen);
        }
        seen++;
      }
      out.println("   " + seen + " verified sub-records; proof cache now holds " + client.proofCache().size() + " records");
      cost(run.result());

      step("7. Prove that record 1 and sub-record 7 of the big record are in the capsule (the host sends no data; the renter checks sub-record 7 against the payload it holds).");
      ProgramBuilder prove = writer.newProgram(client);
      prove.prove(first.hash(), head);
      prove.proveSubRecord(big.hash(), 7, head, kv.get(7));
      prove.has(three.get(1).hash());
      ProgramResult proofs = client.run(prove.build());
      RecordProof recordProof = Objects.requireNonNull(((Output.Proof) proofs.output(0).output()).recordProofOrNull());
      out.println("   record 1: " + recordProof.headers().size() + " headers from the head, linked by"
          + " hash pointers; sub-record 7: inclusion path checked against its payload; has(record 4): "
          + ((Output.Has) proofs.output(2).output()).held());
      cost(proofs);

      step("8. A man in the middle flips one bit of the payload in the host's answer to the same read.");
      try (HostClient tampered = HostClient.connect(address, account,
          RenterOptions.defaults().withInterceptors(List.of(new FlipOneBit(10))))) {
        tampered.verifier().trust(head);
        ProgramBuilder again = writer.newProgram(tampered);
        again.readSubRecord(big.hash(), index, head);
        try {
          tampered.run(again.build());
          out.println("   NOT DETECTED");
          return 1;
        } catch (HostMisbehaviourException e) {
          out.println("   caught: " + e.getMessage());
        }

      }
      step("9. A man in the middle changes the heads a write states on its way to the host: the host commits"
          + " nothing.");
      try (HostClient tampered = HostClient.connect(address, account,
          RenterOptions.defaults().withInterceptors(List.of(new ChangeStatedHeads())))) {
        List<Record> before = writer.heads();
        try {
          CapsuleWriter copy = new CapsuleWriter(writer.metadata(), writer.writerKey(), writer.heads(),
              writer.knownHeaders());
          copy.append(tampered, List.of(utf8("never committed")));
          out.println("   NOT DETECTED");
          return 1;
        } catch (ProgramFailedException e) {
          // Two 64-digit heads one bit apart: mark the digit rather than leave the reader to find it.
          HexDiff.headsMessage("   ", "refused by the host: " + e.getMessage()).forEach(out::println);
        }
        List<Record> after = writer.refreshHeads(client);
        out.println("   heads on the host are unchanged: " + after.equals(before));
        if (!after.equals(before)) {
          return 1;
        }
      }

      if (!replicate(address, dir, account, writer, big, index)) {
        return 1;
      }
      if (!members(client, writer, creatorKey)) {
        return 1;
      }

      out.println();
      Amount left = client.balance();
      out.println("balance  " + left + " left of " + Amount.ofCap(1000) + "; every receipt matched the renter's own"
          + " recomputation to the unit");
    }
    out.println("done     the host is shut down and its temporary data directory deleted");
    return 0;
  }

  /**
   * Step 10: a second host pulls the capsule from the first in one sync session (records verified as
   * appends before it stores them), and the renter reads from it, verified against the same head.
   */
  private boolean replicate(String origin, Path dir, SigningKey account, CapsuleWriter writer, RecordWithBody big,
      int index) throws RenterException {
    step("10. A second host, a replica, pulls the capsule from the first in one sync session; it verifies every"
        + " record as an append before storing it. The renter then reads from the replica.");
    try (HostServer replica = HostServer.start(HostConfig.defaults(dir.resolve("replica")).withPorts(0, 0)
        .withMetricsPort(-1))) {
      Replicator.SessionResult result =
          replica.replicator().syncNow(origin, writer.capsuleId(), Replicator.ProgressListener.NONE).get(0);
      SyncSession.Progress p = result.progress();
      if (p == null) { // the session failed before it started
        out.println("   " + result.outcome() + ": " + result.error());
        return false;
      }
      out.println("   " + result.outcome() + ": " + p.recordsStored() + " records verified and stored, "
          + (p.bytesSent() + p.bytesReceived()) + " bytes both ways, " + p.roundTrips() + " round trips");
      if (!result.ok()) {
        out.println("   " + result.error());
        return false;
      }
      try (AdminClient admin = AdminClient.connect("127.0.0.1:" + replica.adminPort(), replica.adminToken())) {
        admin.fund(account.publicKey(), Amount.ofCap(1));
      }
      try (HostClient client = HostClient.connect("127.0.0.1:" + replica.port(), account, RenterOptions.defaults())) {
        RecordHeader head = Objects.requireNonNull(writer.highestHead(), "the capsule has records");
        ProgramBuilder read = writer.newProgram(client);
        read.readSubRecord(big.hash(), index, head);
        VerifiedOutput v = client.run(read.build()).output(0);
        out.println("   \"" + new String(v.payload(), StandardCharsets.UTF_8) + "\" read from the replica, verified"
            + " against head " + short16(head.hash()));
      }
    } catch (java.io.IOException e) {
      out.println("   could not start the replica: " + e.getMessage());
      return false;
    }
    return true;
  }


  /**
   * Step 11: the creator adds a member with a signed membership record, the member appends with its own
   * key, the members are listed (verified from the signed records), and after its removal the member's
   * next append is refused, naming the removal.
   */
  private boolean members(HostClient client, CapsuleWriter writer, SigningKey creatorKey) throws RenterException {
    step("11. Members: the creator adds a member (a signed membership record in the capsule), the member appends"
        + " with its own key, then the creator removes it and its next append is refused.");
    writer.refreshHeads(client);
    CapsuleWriter creator = new CapsuleWriter(writer.metadata(), creatorKey, writer.heads(), writer.knownHeaders());
    SigningKey memberKey = SigningKey.generate();
    RecordWithBody added = creator.addMember(client, memberKey.publicKey(), Rights.READ | Rights.ADD);
    out.println("   member " + short16(memberKey.publicKey()) + " added with read,add by record " + short16(added.hash()));
    cost(RenterArgs.lastResult(creator));
    CapsuleWriter member = new CapsuleWriter(writer.metadata(), memberKey, List.of(), List.of());
    RecordWithBody byMember = member.append(client, List.of(utf8("written by the member"))).get(0);
    out.println("   the member appended record " + short16(byMember.hash()) + " at height "
        + byMember.record().header().height() + " (it first learned the heads and the membership records, verified)");
    CapsuleMembers members = creator.members(client);
    out.println("   members as of the newest head, verified: " + members.members().size() + " (the creator, the"
        + " metadata's writer, the member with " + String.join(",", MemberCommand.names(members.bitsOf(memberKey.publicKey()))) + ")");
    RecordWithBody removal = creator.removeMember(client, memberKey.publicKey());
    out.println("   removed by record " + short16(removal.hash()));
    try {
      member.append(client, List.of(utf8("never committed")));
      out.println("   NOT REFUSED");
      return false;
    } catch (NotAllowedException e) {
      out.println("   refused: " + e.getMessage());
    }
    return true;
  }

  private static String short16(dev.capsulevm.proofs.crypto.PublicKey key) {
    return key.toHex().substring(0, 16) + "...";
  }

  private void step(String text) {
    out.println(text);
  }

  /** What the program cost of the budget it was given (its estimate), and what came back. */
  private void cost(ProgramResult result) {
    out.println("   " + RenterArgs.spent(result) + "; receipt verified");
  }

  private static String short16(dev.capsulevm.proofs.Hash hash) {
    return hash.toHex().substring(0, 16) + "...";
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static void delete(Path dir) throws IOException {
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
