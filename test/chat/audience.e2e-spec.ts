import { randomUUID } from 'node:crypto';
import {
  chatSuite,
  connectSocketIo,
  connectWs,
  storedMessages,
  type ChatClient,
  type SocketIoClient,
} from '../support/chat-clients';
import { storageSetups } from '../support/test-app';
import { newUserId, signToken } from '../support/tokens';

const MISSING_ID = '00000000-0000-4000-8000-000000000000';
const SETTLE_MS = 150;
const LOAD_USERS = 50;

const settle = () => new Promise((resolve) => setTimeout(resolve, SETTLE_MS));

/** Who sees a conversation's events: its owner's sockets and joined admins, never another user. */
describe.each(storageSetups())("A conversation's audience [$name]", (setup) => {
  const suite = chatSuite(setup);
  const { fake } = suite;
  const alice = newUserId('alice');
  const aliceToken = signToken(alice);
  const bobToken = signToken(newUserId('bob'));
  const adminToken = signToken(newUserId('admin'), { admin: true });

  const send = (client: ChatClient, content: string, conversationId?: string) =>
    client.request('chat:send', { conversationId, clientMessageId: randomUUID(), content });

  it("streams to the owner's other devices (either transport), and nothing to another user", async () => {
    const phone = await connectSocketIo(suite.app.url, { token: aliceToken });
    const laptop = await connectSocketIo(suite.app.url, { token: aliceToken });
    const terminal = await connectWs(suite.app.url, { token: aliceToken });
    const bob = await connectSocketIo(suite.app.url, { token: bobToken });
    const bobWs = await connectWs(suite.app.url, { token: bobToken });
    fake.enqueue({ chunks: ['Claro', ', te', ' cuento'], tokenDelayMs: 5 });

    const ack = await send(phone, '¿Me contás algo?');
    const onPhone = await phone.collectReply(ack.replyId);

    for (const device of [laptop, terminal]) {
      const seen = await device.collectReply(ack.replyId);
      expect(seen.deltas).toEqual(onPhone.deltas);
      expect(seen.done).toEqual(onPhone.done);
      expect(device.of('chat:message')).toEqual([
        {
          conversationId: ack.conversationId,
          message: expect.objectContaining({ id: ack.messageId, content: '¿Me contás algo?' }),
        },
      ]);
      await device.next('typing', (t) => !t.isTyping);
    }
    expect(onPhone.text).toBe('Claro, te cuento');
    await settle();
    expect(bob.received).toEqual([]);
    expect(bobWs.received).toEqual([]);
  });

  it("refuses another user's conversation and reply exactly like missing ones", async () => {
    const owner = await connectSocketIo(suite.app.url, { token: aliceToken });
    const bob = await connectSocketIo(suite.app.url, { token: bobToken });
    fake.enqueue({ chunks: ['uno', ' dos', ' tres', ' cuatro', ' cinco'], tokenDelayMs: 40 });
    const ack = await send(owner, 'Contá hasta cinco');
    await owner.next('chat:delta');

    const attempts: [string, object, object][] = [
      ['conversation:join', { conversationId: ack.conversationId }, { conversationId: MISSING_ID }],
      ['chat:abort', { replyId: ack.replyId }, { replyId: MISSING_ID }],
      ['chat:resume', { replyId: ack.replyId, afterSeq: 0 }, { replyId: MISSING_ID, afterSeq: 0 }],
    ];
    for (const [event, theirs, missing] of attempts) {
      const refused = await bob.request(event, theirs);
      expect(refused).toEqual({
        ok: false,
        error: { code: 'not_found', message: expect.any(String) },
      });
      expect(refused).toEqual(await bob.request(event, missing));
    }
    // Writing into it is refused the same way.
    const intrusion = await send(bob, 'hola', ack.conversationId);
    expect(intrusion).toEqual(await send(bob, 'hola', MISSING_ID));
    expect(intrusion.error.code).toBe('not_found');

    // Bob's abort stopped nothing, his resume replayed nothing, his join brought him nothing.
    const reply = await owner.collectReply(ack.replyId);
    expect(reply.done).toMatchObject({ status: 'complete', content: 'uno dos tres cuatro cinco' });
    await settle();
    expect(bob.received).toEqual([]);
    const stored = await storedMessages(suite.app.url, aliceToken, ack.conversationId);
    expect(stored.map((m) => m.content)).toEqual([
      'Contá hasta cinco',
      'uno dos tres cuatro cinco',
    ]);
  });

  it('lets an admin join a conversation and then receive its events, until it leaves', async () => {
    const owner = await connectSocketIo(suite.app.url, { token: aliceToken });
    const admin = await connectSocketIo(suite.app.url, { token: adminToken });
    fake.enqueue({ text: 'Primera respuesta' }, { text: 'Segunda respuesta' }, { text: 'Tercera' });
    const first = await send(owner, 'Primera');
    await owner.collectReply(first.replyId);

    expect(
      await admin.request('conversation:join', { conversationId: first.conversationId }),
    ).toEqual({
      ok: true,
    });
    const second = await send(owner, 'Segunda', first.conversationId);
    const onOwner = await owner.collectReply(second.replyId);
    const onAdmin = await admin.collectReply(second.replyId);
    expect(onAdmin.deltas).toEqual(onOwner.deltas);
    expect(onAdmin.done).toMatchObject({ status: 'complete', content: 'Segunda respuesta' });
    expect(admin.of('chat:message').map((m) => m.message.content)).toEqual(['Segunda']);
    // The reply before the join is not pushed to it.
    expect(admin.received.some((r) => r.data?.replyId === first.replyId)).toBe(false);

    // A user typing reaches the joined admin, not the typing socket itself.
    owner.emit('typing', { conversationId: first.conversationId, isTyping: true });
    expect(await admin.next('typing', (t) => t.actor === 'user')).toEqual({
      conversationId: first.conversationId,
      actor: 'user',
      userId: alice,
      isTyping: true,
    });

    expect(
      await admin.request('conversation:leave', { conversationId: first.conversationId }),
    ).toEqual({
      ok: true,
    });
    const third = await send(owner, 'Tercera', first.conversationId);
    await owner.collectReply(third.replyId);
    await settle();
    expect(admin.received.some((r) => r.data?.replyId === third.replyId)).toBe(false);
    expect(owner.of('typing').some((t) => t.actor === 'user')).toBe(false);
  });

  it(`keeps ${LOAD_USERS} concurrent users' replies and histories apart`, async () => {
    const users = Array.from({ length: LOAD_USERS }, (_, i) => {
      const id = newUserId(`load${i}`);
      return { id, token: signToken(id), sentinel: `sentinel${i}x${randomUUID().slice(0, 8)}` };
    });
    const sockets: SocketIoClient[] = await Promise.all(
      users.map((u) => connectSocketIo(suite.app.url, { token: u.token })),
    );
    // The fake echoes the last user message, a few words at a time.
    fake.setDefault({ tokenDelayMs: 2 });

    const acks = await Promise.all(
      users.map((u, i) => send(sockets[i], `Repeat ${u.sentinel} please`)),
    );
    expect(acks.every((a) => a.ok)).toBe(true);
    const replies = await Promise.all(
      acks.map((a, i) => sockets[i].collectReply(a.replyId, 15_000)),
    );

    for (const [i, user] of users.entries()) {
      const others = users.filter((u) => u !== user).map((u) => u.sentinel);
      const seenText = JSON.stringify(sockets[i].received);
      expect(replies[i].done?.content).toBe(`You said: Repeat ${user.sentinel} please`);
      expect(replies[i].text).toBe(replies[i].done?.content);
      expect(others.filter((s) => seenText.includes(s))).toEqual([]);
      expect(
        sockets[i].received.every((r) => r.data.conversationId === acks[i].conversationId),
      ).toBe(true);
    }
    const histories = await Promise.all(
      users.map((u, i) => storedMessages(suite.app.url, u.token, acks[i].conversationId)),
    );
    for (const [i, user] of users.entries()) {
      expect(histories[i].map((m) => m.content)).toEqual([
        `Repeat ${user.sentinel} please`,
        `You said: Repeat ${user.sentinel} please`,
      ]);
    }
  }, 25_000);
});
