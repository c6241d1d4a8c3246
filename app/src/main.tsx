// Entry point: read the settings and the generated schema, start the link, draw the app, register the offline shell.

import { render } from 'preact';
import schemaJson from 'alfaspark-schema';
import { Controller } from './controller';
import { parseSchema } from './schema';
import { load } from './settings';
import { App } from './ui/app';
import './style.css';

const storage = (() => {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
})();
const settings = load(storage, location);
const c = new Controller(settings, parseSchema(schemaJson), storage);
(window as unknown as { alfaspark: Controller }).alfaspark = c; // for the tests and the curious
render(<App c={c} />, document.getElementById('app')!);
c.start();

if ('serviceWorker' in navigator && (location.protocol === 'https:' || location.hostname === 'localhost' || location.hostname === '127.0.0.1')) {
  navigator.serviceWorker.register('./sw.js').catch(() => {
    /* no offline shell (private mode, or the host refuses it): the app works without */
  });
}
