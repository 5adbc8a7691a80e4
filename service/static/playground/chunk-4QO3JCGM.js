import{a}from"./chunk-G5PFFB3V.js";export{a as renderSvg};
