package dev.capsulevm.proofs.crypto;

import dev.capsulevm.proofs.Domain;

/** The bytes every capsulevm signature covers: the domain tag, then the message. */
final class Signing {
  private Signing() {}

  static byte[] tagged(Domain domain, byte[] message) {
    byte[] tagged = new byte[1 + message.length];
    tagged[0] = domain.tag();
    System.arraycopy(message, 0, tagged, 1, message.length);
    return tagged;
  }
}
