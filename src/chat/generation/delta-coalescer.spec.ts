import { DeltaCoalescer } from './delta-coalescer';

describe('DeltaCoalescer', () => {
  let sent: string[];
  beforeEach(() => {
    jest.useFakeTimers();
    sent = [];
  });
  afterEach(() => jest.useRealTimers());

  const coalescer = (windowMs: number, maxChars = 1000) =>
    new DeltaCoalescer(windowMs, maxChars, (text) => sent.push(text));

  it('sends the first delta at once, then joins what arrives within the window', () => {
    const c = coalescer(20);
    c.push('Hola');
    expect(sent).toEqual(['Hola']);
    c.push(',');
    jest.advanceTimersByTime(5);
    c.push(' qué');
    jest.advanceTimersByTime(5);
    c.push(' tal');
    expect(sent).toEqual(['Hola']);
    jest.advanceTimersByTime(10);
    expect(sent).toEqual(['Hola', ', qué tal']);
  });

  it('holds no delta longer than the window, and starts afresh after a quiet window', () => {
    const c = coalescer(20);
    c.push('a');
    jest.advanceTimersByTime(20); // a window with nothing in it ends quietly
    jest.advanceTimersByTime(100);
    c.push('b');
    expect(sent).toEqual(['a', 'b']);
    c.push('c');
    jest.advanceTimersByTime(19);
    expect(sent).toEqual(['a', 'b']);
    jest.advanceTimersByTime(1);
    expect(sent).toEqual(['a', 'b', 'c']);
  });

  it('sends as soon as maxChars are pending, and never joins past the cap', () => {
    const c = coalescer(1000, 4);
    c.push('a');
    c.push('bc');
    c.push('de');
    expect(sent).toEqual(['a', 'bcde']);
    c.push('abc');
    c.push('ab');
    c.push('extraordinario');
    c.flush();
    expect(sent).toEqual(['a', 'bcde', 'abc', 'ab', 'extraordinario']);
  });

  it('flush sends what is pending and leaves no timer behind', () => {
    const c = coalescer(20);
    c.push('a');
    c.push('b');
    c.flush();
    expect(sent).toEqual(['a', 'b']);
    expect(jest.getTimerCount()).toBe(0);
    c.flush();
    expect(sent).toEqual(['a', 'b']);
  });

  it('with a window of 0 sends every delta as it comes and ignores empty ones', () => {
    const c = coalescer(0);
    c.push('a');
    c.push('');
    c.push('b');
    expect(sent).toEqual(['a', 'b']);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('keeps the text whole: the sends joined equal the pushes joined', () => {
    const c = coalescer(15, 7);
    const pushed = Array.from({ length: 200 }, (_, i) => `t${i} `);
    for (const [i, text] of pushed.entries()) {
      c.push(text);
      jest.advanceTimersByTime(i % 3);
    }
    c.flush();
    expect(sent.join('')).toBe(pushed.join(''));
    expect(sent.length).toBeLessThan(pushed.length);
  });
});
