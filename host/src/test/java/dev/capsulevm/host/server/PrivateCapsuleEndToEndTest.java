package dev.capsulevm.host.server;

import static dev.capsulevm.vm.exec.PrivateCapsule.CREATOR;
import static dev.capsulevm.vm.exec.PrivateCapsule.READER;
import static dev.capsulevm.vm.exec.PrivateCapsule.WRITER;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.host.server.TestHost.ProgramBuilder;
import dev.capsulevm.host.server.TestHost.Run;
import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.program.AppendEncoding;
import dev.capsulevm.program.Instruction;
import dev.capsulevm.program.Output;
import dev.capsulevm.program.OutputEncoding;
import dev.capsulevm.program.RecordSelector;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.integrity.ProofVerifier;
import dev.capsulevm.proofs.members.MemberChange;
import dev.capsulevm.proto.v1.FailureReason;
import dev.capsulevm.vm.exec.PrivateCapsule;
import io.grpc.Status;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A private capsule over real gRPC on loopback: created and appended in one program, read back as a
 * ciphertext that a member opens, and an append under a retired epoch ended with {@code
 * FAILED_PRECONDITION} and failure reason {@code STALE_EPOCH} (16), which the receipt states too.
 */
class PrivateCapsuleEndToEndTest {
  static final long BUDGET = 50_000_000;

  @TempDir Path dir;
  TestHost t;
  SigningKey account;
  PriceTable table;

  @BeforeEach
  void start() throws Exception {
    t = new TestHost(TestHost.config(dir));
    account = SigningKey.generate();
    t.fund(account, 1_000_000_000L);
    table = t.table().table();
  }

  @AfterEach
  void stop() {
    t.close();
  }

  @Test
  void aPrivateCapsuleOverGrpc_andAStaleEpochIsFailedPrecondition() throws Exception {
    PrivateCapsule capsule = new PrivateCapsule(SigningPolicy.EVERY_RECORD);
    RecordWithBody r1 = capsule.data(WRITER, List.of(capsule.id()), "over the wire");
    capsule.hold(List.of(r1));
    RecordWithBody removal = capsule.change(CREATOR, List.of(r1.hash()), new MemberChange.SetMember(READER.key(), 0),
        capsule.rotate(List.of(capsule.genesisEpoch()), CREATOR, WRITER));
    capsule.hold(List.of(removal));
    ProgramBuilder create = new ProgramBuilder(capsule.id());
    create.add(new Instruction.CreateCapsule(create.put(capsule.metadata.encoded())));
    create.add(new Instruction.AppendRecord(create.put(AppendEncoding.encode(List.of(r1, removal)))));
    Run created = t.run(create, table, account, BUDGET, 1 << 20, true);
    assertEquals(Status.Code.OK, created.status().getCode(), () -> created.status().toString());

    ProgramBuilder read = new ProgramBuilder(capsule.id());
    read.add(new Instruction.ReadSubRecord(new RecordSelector.ByHash(read.put(r1.hash())), 0, read.put(removal.hash())));
    Run run = t.run(read, table, account, BUDGET, 1 << 20, true);
    assertEquals(Status.Code.OK, run.status().getCode(), () -> run.status().toString());
    Output.SubRecord sub = (Output.SubRecord) OutputEncoding.decode(read.program().instructions().get(0),
        run.results().get(0).getResult().getOutput().toByteArray());
    new ProofVerifier(null).verifySubRecord(removal.hash(), r1.hash(), 0, sub.payload(), sub.proof());
    assertEquals("over the wire", capsule.open(READER, r1.record().header(), 0, sub.payload()));

    // Beside the removal, under the genesis epoch the removed reader holds.
    RecordWithBody stale = capsule.data(WRITER, List.of(r1.hash()), "stale");
    ProgramBuilder append = new ProgramBuilder(capsule.id());
    append.add(new Instruction.AppendRecord(append.put(AppendEncoding.encode(List.of(stale)))));
    byte[] withdrawal = TestHost.withdrawal(account, table, BUDGET);
    Run refused = t.run(append, table, account, BUDGET, 1 << 20, true, withdrawal);
    assertEquals(Status.Code.FAILED_PRECONDITION, refused.status().getCode(), () -> refused.status().toString());
    assertEquals(FailureReason.FAILURE_REASON_STALE_EPOCH, refused.end().getEnd().getFailure().getReason());
    Receipt receipt = TestHost.failure(refused.end(), refused.status(), table.hostKey());
    assertEquals(receipt, TestHost.check(refused, append, table, BUDGET, withdrawal));
    assertEquals(16, receipt.failureReason());
    assertTrue(receipt.failureMessage().contains("was retired by membership record " + removal.hash())
        && receipt.failureMessage().contains("refresh the capsule's heads and rebuild"), receipt.failureMessage());
    assertTrue(!t.host.storage().holdsRecord(capsule.id(), stale.hash()), "nothing refused is stored");
  }
}
