import type { ConversationSummary } from '@charla/contracts';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { MessageEntity } from '../../src/conversations/message.entity';
import { SUMMARY_INSTRUCTIONS } from '../../src/summary/summarizer';
import { chatSuite, connectSocketIo, storedMessages } from '../support/chat-clients';
import type { RecordedRequest } from '../support/fake-llm';
import { request } from '../support/http';
import { removeDataDir, startApp, storageSetups, type TestApp } from '../support/test-app';
import { bearer, newUserId, signToken } from '../support/tokens';

const MISSING_ID = '00000000-0000-4000-8000-000000000000';
const isSummaryRequest = (r: RecordedRequest) =>
  r.messages[0]?.content.startsWith(SUMMARY_INSTRUCTIONS) ?? false;

/** Summaries of whole conversations: by the LLM, cached until the conversation changes, owner or admin. */
describe.each(storageSetups())('Conversation summaries [$name]', (setup) => {
  const suite = chatSuite(setup);
  const { fake } = suite;
  const alice = newUserId('alice');
  const asAlice = signToken(alice);
  const asBob = signToken(newUserId('bob'));
  const asAdmin = signToken(newUserId('admin'), { admin: true });
  const summaryCalls = () => fake.requests.filter(isSummaryRequest);

  beforeEach(() => {
    fake.setDefault((r) =>
      isSummaryRequest(r)
        ? { text: `Resumen ${summaryCalls().length}: Ana quiere ahorrar en dólares.` }
        : { text: 'Entiendo, contame más.' },
    );
  });

  const api = (path: string) => `${suite.app.url}/api${path}`;
  /** A summary, or the error envelope. */
  const get = (path: string, token = asAlice) => request(api(path), { headers: bearer(token) });
  /** Sends `contents` in order (to `conversationId`, or a new conversation) and waits for each reply. */
  const chat = async (contents: string[], conversationId?: string) => {
    const client = await connectSocketIo(suite.app.url, { token: asAlice });
    for (const content of contents) {
      const ack = await client.request('chat:send', {
        conversationId,
        clientMessageId: randomUUID(),
        content,
      });
      conversationId = ack.conversationId as string;
      await client.collectReply(ack.replyId);
    }
    client.close();
    return conversationId!;
  };

  it("summarizes with the LLM in the conversation's language, once until the conversation changes", async () => {
    const id = await chat([
      'Hola, me llamo Ana y quiero ahorrar.',
      '¿Conviene comprar dólares este mes?',
      'Tengo un perfil conservador.',
    ]);
    const first = await get(`/conversations/${id}/summary`);
    expect(first.status).toBe(200);
    const stored = await storedMessages(suite.app.url, asAlice, id);
    expect(first.body).toEqual({
      conversationId: id,
      summary: 'Resumen 1: Ana quiere ahorrar en dólares.',
      method: 'llm',
      upToMessageId: stored.at(-1)!.id,
      messageCount: 6,
      generatedAt: expect.any(String),
    });
    // The conversation reaches the model as quoted data, with the language named.
    const [call] = summaryCalls();
    expect(call.messages.map((m) => m.role)).toEqual(['system', 'user']);
    expect(call.messages[0].content).toContain('Write the summary in Spanish');
    expect(call.messages[1].content).toContain('¿Conviene comprar dólares este mes?');

    const again = await get(`/conversations/${id}/summary`);
    expect(again.body).toEqual(first.body);
    expect(summaryCalls()).toHaveLength(1);

    await chat(['¿Y los plazos fijos?'], id);
    const changed = await get(`/conversations/${id}/summary`);
    expect(changed.body).toMatchObject({
      summary: 'Resumen 2: Ana quiere ahorrar en dólares.',
      method: 'llm',
      messageCount: 8,
    });
    expect(changed.body.upToMessageId).not.toBe(first.body.upToMessageId);
    expect(summaryCalls()).toHaveLength(2);
  });

  it("answers another user's conversation like a missing one, and admins like the owner", async () => {
    const id = await chat(['Una pregunta privada.']);
    const owner = await get(`/conversations/${id}/summary`);
    expect(owner.status).toBe(200);

    const bob = await get(`/conversations/${id}/summary`, asBob);
    const missing = await get(`/conversations/${MISSING_ID}/summary`, asBob);
    expect(bob.status).toBe(404);
    expect(bob.body).toMatchObject({ code: 'not_found', error: missing.body.error });
    expect((await get('/conversations/not-a-uuid/summary')).status).toBe(400);

    const admin = await get(`/conversations/${id}/summary`, asAdmin);
    expect(admin.status).toBe(200);
    expect(admin.body).toEqual(owner.body);
    expect(summaryCalls()).toHaveLength(1);
  });

  it("summarizes a user's latest conversation; only admins may ask for another user's", async () => {
    const older = await chat(['Primera conversación.']);
    const newer = await chat(['Segunda conversación.']);
    expect((await get(`/chat/summary/${alice}`)).body.conversationId).toBe(newer);
    await chat(['Vuelvo a la primera.'], older);
    const latest = await get(`/chat/summary/${alice}`);
    expect(latest.body).toMatchObject({ conversationId: older, method: 'llm', messageCount: 4 });

    const bob = await get(`/chat/summary/${alice}`, asBob);
    expect(bob.status).toBe(403);
    expect(bob.body.code).toBe('forbidden');
    expect((await get(`/chat/summary/${alice}`, asAdmin)).body.conversationId).toBe(older);
    expect((await get(`/chat/summary/${newUserId('nobody')}`, asAdmin)).status).toBe(404);
  });

  it('falls back to an extractive summary when the LLM call fails', async () => {
    const id = await chat([
      'Quiero invertir en bonos soberanos del Tesoro.',
      'También me interesan los fondos comunes de inversión.',
    ]);
    fake.setDefault((r) =>
      isSummaryRequest(r) ? { status: 400, message: 'context too long' } : { text: 'ok' },
    );
    const res = await get(`/conversations/${id}/summary`);
    expect(res.status).toBe(200);
    expect(res.body.method).toBe('extractive');
    const sentences = (await storedMessages(suite.app.url, asAlice, id)).map((m) => m.content);
    expect(res.body.summary.split('\n').length).toBeGreaterThan(0);
    for (const line of res.body.summary.split('\n')) expect(sentences).toContain(line);
  });
});

/** With no LLM configured (the offline provider), summaries are extractive. */
describe.each(storageSetups())('Conversation summaries offline [$name]', (setup) => {
  let app: TestApp;
  const user = newUserId('offline');
  const token = signToken(user);

  beforeAll(async () => {
    app = await startApp(setup.env());
  });
  afterAll(async () => {
    await app.close();
    removeDataDir(app.env);
  });

  it('picks the most telling sentences of the conversation, in its language', async () => {
    const created = await request(`${app.url}/api/conversations`, {
      headers: bearer(token),
      body: {},
    });
    const conversationId = created.body.id as string;
    const contents = [
      'Hola. Quiero armar una cartera de inversión conservadora.',
      'Para una cartera conservadora conviene combinar bonos cortos y plazo fijo.',
      '¿Qué porcentaje de la cartera pongo en bonos?',
      'Depende de tu horizonte, pero en una cartera conservadora los bonos suelen ser mayoría.',
      'Gracias.',
    ];
    const repository = app.app.get(DataSource).getRepository(MessageEntity);
    for (const [i, content] of contents.entries()) {
      await repository.insert({
        id: randomUUID(),
        conversationId,
        userId: user,
        role: i % 2 === 0 ? 'user' : 'assistant',
        content,
        status: 'complete',
      });
    }

    const res = await request<ConversationSummary>(
      `${app.url}/api/conversations/${conversationId}/summary`,
      { headers: bearer(token) },
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ conversationId, method: 'extractive', messageCount: 5 });
    const lines = res.body.summary.split('\n');
    const sentences = contents.flatMap((c) => c.match(/[^.?!]+[.?!]/g)!.map((s) => s.trim()));
    for (const line of lines) expect(sentences).toContain(line);
    expect(res.body.summary).toContain('cartera conservadora');
    expect(lines).not.toContain('Gracias.');
  });
});
