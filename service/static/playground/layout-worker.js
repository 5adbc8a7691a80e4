import{a as s}from"./chunk-G5PFFB3V.js";self.onmessage=async e=>{let{id:a,dot:o}=e.data;self.postMessage({id:a,...await s(o)})};
