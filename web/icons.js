// A few line icons as inline SVG (stroke colour follows the text colour).

import { svg } from './dom.js';

const PATHS = {
  phone: ['M8 2.5h8a2 2 0 0 1 2 2v15a2 2 0 0 1-2 2H8a2 2 0 0 1-2-2v-15a2 2 0 0 1 2-2z', 'M10.5 18.5h3'],
  key: ['M14.5 9.5a4 4 0 1 1-8 0 4 4 0 0 1 8 0z', 'M13.5 12.5l7 7', 'M17.5 16.5l2-2', 'M19.5 18.5l1.5-1.5'],
  users: ['M9 11a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7z', 'M2.5 20a6.5 6.5 0 0 1 13 0', 'M16 4.5a3.5 3.5 0 0 1 0 6.5', 'M18 14a6.5 6.5 0 0 1 3.5 6'],
  plug: ['M9 3v5', 'M15 3v5', 'M6.5 8h11v3a5.5 5.5 0 0 1-11 0z', 'M12 16.5V21'],
  check: ['M5 12.5l4.5 4.5L19 7.5'],
  mail: ['M3.5 6h17v12h-17z', 'M3.5 6.5l8.5 6.5 8.5-6.5'],
};

/** An icon by name, `size` pixels square, hidden from screen readers. */
export function icon(name, size = 20) {
  return svg(
    'svg',
    { class: ['icon', `icon-${name}`], viewBox: '0 0 24 24', width: size, height: size, 'aria-hidden': 'true', focusable: 'false' },
    (PATHS[name] || []).map((d) => svg('path', { d })),
  );
}
