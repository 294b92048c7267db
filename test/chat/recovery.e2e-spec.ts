import { DataSource } from 'typeorm';
import { GenerationRegistry } from '../../src/chat/generation/generation.registry';
import { OrphanRepliesSweeper } from '../../src/chat/generation/orphan-replies.sweeper';
import { ReplyBuffer } from '../../src/chat/generation/reply-buffer';
import { request } from '../support/http';
import { removeDataDir, startApp, storageSetups, type TestApp } from '../support/test-app';
import { bearer, newUserId, signToken } from '../support/tokens';

/**
 * A node that dies mid-reply leaves a `streaming` row and no owner lease. The next start (or any
 * node's periodic sweep) stores it as `interrupted` with what was buffered.
 */
describe.each(storageSetups())('Replies left streaming by a crashed node [$name]', (setup) => {
  let app: TestApp;
  const user = newUserId();
  const headers = bearer(signToken(user));

  beforeAll(async () => {
    app = await startApp(setup.env());
  });
  afterAll(async () => {
    await app.close();
    removeDataDir(app.env);
  });

  /** A reply row left `streaming` a minute ago, as a node that died mid-reply leaves it. */
  async function streamingReplyWithoutOwner(): Promise<{
    conversation: { id: string };
    replyId: string;
  }> {
    const conversation = (await request(`${app.url}/api/conversations`, { headers, body: {} }))
      .body;
    const [{ id: replyId }] = await app.app.get(DataSource).query(
      `INSERT INTO messages (conversation_id, user_id, role, content, status, created_at)
       VALUES ($1, $2, 'assistant', '', 'streaming', now() - interval '1 minute') RETURNING id`,
      [conversation.id, user],
    );
    return { conversation, replyId };
  }

  it('are stored as interrupted with the buffered content at the next start', async () => {
    const { conversation, replyId } = await streamingReplyWithoutOwner();
    const buffer = app.app.get(ReplyBuffer);
    await buffer.append({ conversationId: conversation.id, replyId, seq: 1, text: 'Half an ' });
    await buffer.append({ conversationId: conversation.id, replyId, seq: 2, text: 'answer' });

    // What every node does at start-up and then every 30 s.
    expect(await app.app.get(OrphanRepliesSweeper).sweep()).toBeGreaterThanOrEqual(1);

    const history = await request(`${app.url}/api/conversations/${conversation.id}/messages`, {
      headers,
    });
    expect(history.body.data[0]).toMatchObject({
      id: replyId,
      status: 'interrupted',
      content: 'Half an answer',
    });
  });

  it('leaves a reply whose node is alive alone', async () => {
    const { replyId } = await streamingReplyWithoutOwner();
    const running = app.app.get(GenerationRegistry).register(replyId);
    await new Promise((r) => setTimeout(r, 50));
    await app.app.get(OrphanRepliesSweeper).sweep();
    const [row] = await app.app
      .get(DataSource)
      .query('SELECT status FROM messages WHERE id = $1', [replyId]);
    expect(row.status).toBe('streaming');
    running.settle();
  });
});
